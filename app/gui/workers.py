"""Background work for the GUI: analysis of dropped files and repeated training fits.

Each worker is a QObject moved to its own QThread; results come back as queued signals, so the GUI
thread only ever does bookkeeping. Training epochs can arrive thousands of times a second at
batch size 1, so they are buffered and announced at most ~30 times a second instead of one signal
per epoch (a signal per epoch would flood the event loop and stall it).
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.analysis import analyse_files


def lower_thread_priority(nice: int = 10) -> None:
    """Make the calling thread yield the CPU to the GUI and the live audio path.

    Training and analysis can use a whole core for minutes; on Linux a thread has its own nice
    value, so raising it keeps the event loop and the live worker responsive on a busy 2-core machine.
    """
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed: it only makes things smoother


class _OnGui(QObject):
    """Calls a Python function on the GUI thread when a worker's signal fires.

    A plain function or lambda connected to a worker's signal would run on the worker's thread
    (it has no thread of its own); a slot of a QObject living on the GUI thread is queued there.
    """

    def __init__(self, fn: Callable[..., Any], parent: QObject):
        super().__init__(parent)
        self._fn = fn

    @Slot(object)
    def call(self, value: Any = None) -> None:
        self._fn(value)

    @Slot(str)
    def call_str(self, value: str) -> None:
        self._fn(value)


def on_gui(parent: QObject, fn: Callable[[Any], Any], text: bool = False):
    """A slot that runs `fn(value)` on `parent`'s (the GUI) thread; connect worker signals to it."""
    r = _OnGui(fn, parent)
    return r.call_str if text else r.call


def start_in_thread(worker: QObject, parent: QObject) -> QThread:
    """Run `worker.run` in a new QThread that quits and cleans up when `worker.finished` fires."""
    thread = QThread(parent)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread


@dataclass
class AnalysedClip:
    path: Path
    label: str
    index: np.ndarray  # frame numbers of the usable frames
    rows: np.ndarray  # (frames, columns)
    duration: float
    staged: Path | None = None  # a copy inside the project, made on the worker thread


@dataclass
class AnalysisOutcome:
    columns: list[str]
    clips: list[AnalysedClip] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    stopped: bool = False


def _duration(path: Path) -> float:
    try:
        import soundfile as sf

        return float(sf.info(str(path)).duration)
    except Exception:  # noqa: BLE001 - duration is informative only
        return math.nan


class AnalysisWorker(QObject):
    """Analyses (file, label) pairs with app.analysis, reporting progress per file."""

    progress = Signal(int, int, str)  # done, total, file name
    finished = Signal(object)  # AnalysisOutcome
    failed = Signal(str)

    def __init__(self, labelled: list[tuple[Path, str]], spec: Any = None, stage_dir: Path | None = None):
        super().__init__()
        self.labelled = labelled
        self.spec = spec
        self.stage_dir = stage_dir
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @Slot()
    def run(self) -> None:
        lower_thread_priority(5)
        try:
            a = analyse_files(
                self.labelled,
                self.spec,
                progress=lambda done, total, path: self.progress.emit(done, total, Path(path).name),
                stop=self._stop,
            )
            out = AnalysisOutcome(list(a.columns), stopped=self._stop.is_set())
            ids, matrix = a.dataset.to_numpy()
            by_clip: dict[str, list[int]] = {}
            for i, pid in enumerate(ids):
                by_clip.setdefault(a.clip_of(str(pid)), []).append(i)
            matrix = np.asarray(matrix, dtype=np.float64)
            for c in a.clips:
                rows = by_clip.get(c.clip_id, [])
                index = np.array([int(str(ids[i]).rsplit("-", 1)[1]) for i in rows], dtype=np.int64)
                clip = AnalysedClip(Path(c.path), c.label, index, matrix[rows], _duration(Path(c.path)))
                if self.stage_dir is not None:
                    # Copying audio is I/O: do it here, so the GUI thread only renames.
                    fd, tmp = tempfile.mkstemp(suffix=Path(c.path).suffix, dir=self.stage_dir)
                    os.close(fd)
                    shutil.copyfile(c.path, tmp)
                    clip.staged = Path(tmp)
                out.clips.append(clip)
            out.failures = [(Path(f.path), f.reason) for f in a.failures]
        except Exception as e:  # noqa: BLE001 - shown to the user in plain words
            self.failed.emit(f"Analysis failed: {e}")
            out = AnalysisOutcome([], stopped=True)
        self.finished.emit(out)


class TrainWorker(QObject):
    """Runs Trainer.run() (repeated fits) off the GUI thread.

    Epoch points go into `self.epochs` (a deque the GUI drains); `epochs_ready` is emitted at most
    every `emit_interval` seconds, and once more when a fit ends.
    """

    epochs_ready = Signal()
    fit_done = Signal(object)  # app.training.FitReport
    finished = Signal(object)  # TrainResult or None
    failed = Signal(str)

    def __init__(self, trainer: Any, emit_interval: float = 0.03, prepare: Callable[[], None] | None = None):
        super().__init__()
        self.trainer = trainer
        self.prepare = prepare
        self.epochs: deque[tuple[int, float, float]] = deque()
        self._interval = emit_interval
        self._last_emit = 0.0
        trainer.on_epoch = self._on_epoch
        trainer.on_fit = self._on_fit

    def _on_epoch(self, epoch: int, train_error: float, validation_error: float | None) -> None:
        self.epochs.append(
            (int(epoch), float(train_error), math.nan if validation_error is None else float(validation_error))
        )
        now = time.monotonic()
        if now - self._last_emit >= self._interval:
            self._last_emit = now
            self.epochs_ready.emit()

    def _on_fit(self, report: Any) -> None:
        self.epochs_ready.emit()
        self.fit_done.emit(report)

    def stop(self) -> None:
        self.trainer.stop()

    @Slot()
    def run(self) -> None:
        result = None
        lower_thread_priority(10)
        try:
            if self.prepare is not None:
                self.prepare()
            result = self.trainer.run()
        except Exception as e:  # noqa: BLE001 - shown to the user in plain words
            self.failed.emit(str(e))
        self.epochs_ready.emit()
        self.finished.emit(result)


class CallWorker(QObject):
    """Runs one function off the GUI thread (evaluation, bundle saving, building the demo)."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, fn: Callable[[], Any]):
        super().__init__()
        self.fn = fn

    @Slot()
    def run(self) -> None:
        result = None
        try:
            result = self.fn()
        except Exception as e:  # noqa: BLE001 - shown to the user in plain words
            self.failed.emit(str(e))
        self.finished.emit(result)


def warm_up(spec: Any) -> None:
    """Run each numba-backed path once on a short synthetic tone (feature analysis, streaming, an MLP
    fit and a prediction). Loading compiled kernels holds the GIL for a while; doing it once right
    after the window opens keeps that pause out of the user's first drop, train or listen."""
    from dsp.features import FeatureExtractor
    from model.dataset import DataSet, LabelSet
    from model.mlp import MLPClassifier

    sr = int(spec.sr)
    t = np.arange(sr // 2) / sr
    y = (0.3 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    ex = FeatureExtractor(spec)
    ex.analyse(y)
    ex.stream().push(y[: sr // 4])
    ds, lb = DataSet(2), LabelSet()
    for i in range(8):
        ds.add_point(f"p{i}", [float(i % 2), float(i) / 8])
        lb.add_label(f"p{i}", "a" if i % 2 else "b")
    for batch in (1, 4):
        m = MLPClassifier(hidden_layers=[3], activation="sigmoid", max_iter=2, batch_size=batch, validation=0.0)
        m.fit(ds, lb)
    m.predict_proba_point(np.array([0.0, 0.5]))
