"""Background work for the GUI: analysis of dropped files and repeated training fits.

Each job runs on a plain Python thread; results come back through GuiQueue, drained by a timer on
the GUI thread, so the GUI thread only ever does bookkeeping. Training epochs can arrive thousands
of times a second at batch size 1, so they are buffered and announced at most ~30 times a second
(a call per epoch would flood the event loop and stall it).
"""
from __future__ import annotations

import math
import os
import queue
import shutil
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer

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


class GuiQueue(QObject):
    """Carries results from worker threads to the GUI thread.

    Workers are plain Python threads; they `post(fn, *args)` and a QTimer on the GUI thread runs
    the posted calls every 15 ms. No Python object crosses threads through a queued Qt signal:
    with PySide6 6.12 that path corrupted reference counts (the interpreter aborted at exit with
    "Fatal Python error: bool_dealloc") once training and live listening had run together.
    """

    def __init__(self, parent: QObject, interval_ms: int = 15):
        super().__init__(parent)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def post(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` on the GUI thread soon (callable from any thread)."""
        self._q.put((fn, args))

    def drain(self) -> None:
        while True:
            try:
                fn, args = self._q.get_nowait()
            except queue.Empty:
                return
            fn(*args)


def start_thread(target: Callable[[], None], name: str) -> threading.Thread:
    t = threading.Thread(target=target, name=name, daemon=True)
    t.start()
    return t


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


class AnalysisWorker:
    """Analyses (file, label) pairs with app.analysis on its own thread, reporting progress per file.

    Callbacks run on the GUI thread (through `gui.post`): progress(done, total, name),
    failed(message), finished(AnalysisOutcome).
    """

    def __init__(self, labelled: list[tuple[Path, str]], spec: Any, stage_dir: Path | None, gui: GuiQueue, *,
                 progress: Callable[[int, int, str], None], finished: Callable[[Any], None],
                 failed: Callable[[str], None]):
        self.gui = gui
        self.on_progress, self.on_finished, self.on_failed = progress, finished, failed
        self.labelled = labelled
        self.spec = spec
        self.stage_dir = stage_dir
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def start(self) -> threading.Thread:
        self.thread = start_thread(self.run, "timbrel-analysis")
        return self.thread

    def run(self) -> None:
        lower_thread_priority(5)
        try:
            a = analyse_files(
                self.labelled,
                self.spec,
                progress=lambda done, total, path: self.gui.post(self.on_progress, done, total, Path(path).name),
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
            self.gui.post(self.on_failed, f"Analysis failed: {e}")
            out = AnalysisOutcome([], stopped=True)
        self.gui.post(self.on_finished, out)


class TrainWorker:
    """Runs Trainer.run() (repeated fits) on its own thread.

    Epoch points go into `self.epochs` (a deque the GUI drains); `epochs_ready` is posted to the GUI
    at most every `emit_interval` seconds — 10 times a second is smooth for a loss curve, and each
    redraw re-lays out the plot's axes (a call per epoch would flood the event loop at batch size
    1) — and once more when a fit ends. fit_done(report), failed(message), finished(result)
    also run on the GUI thread.
    """

    def __init__(self, trainer: Any, gui: GuiQueue, *, epochs_ready: Callable[[], None],
                 fit_done: Callable[[Any], None], finished: Callable[[Any], None],
                 failed: Callable[[str], None], prepare: Callable[[], None] | None = None,
                 emit_interval: float = 0.1):
        self.trainer = trainer
        self.gui = gui
        self.on_epochs, self.on_fit_done, self.on_finished, self.on_failed = epochs_ready, fit_done, finished, failed
        self.prepare = prepare
        self.epochs: deque[tuple[int, float, float]] = deque()
        # This worker's own stop: Trainer.run() forgets a stop() made before it begins (it resumes
        # the network), so a Stop pressed while this thread is still starting must reach it this way.
        self._stop = threading.Event()
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
            self.gui.post(self.on_epochs)

    def _on_fit(self, report: Any) -> None:
        self.gui.post(self.on_epochs)
        self.gui.post(self.on_fit_done, report)

    def stop(self) -> None:
        self._stop.set()
        self.trainer.stop()  # also interrupts a fit in progress at its next batch

    def start(self) -> threading.Thread:
        self.thread = start_thread(self.run, "timbrel-training")
        return self.thread

    def run(self) -> None:
        result = None
        lower_thread_priority(10)
        try:
            if self.prepare is not None:
                self.prepare()
            result = self.trainer.run(stop=self._stop)
        except Exception as e:  # noqa: BLE001 - shown to the user in plain words
            self.gui.post(self.on_failed, str(e))
        self.gui.post(self.on_epochs)
        self.gui.post(self.on_finished, result)


def run_call(fn: Callable[[], Any], gui: GuiQueue, finished: Callable[[Any], None],
             failed: Callable[[str], None]) -> threading.Thread:
    """Run one function off the GUI thread (evaluation, bundle saving, autosave, warm-up);
    `finished(result)` (None after a failure, which `failed(message)` reports first) runs on the GUI thread."""

    def work() -> None:
        result = None
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - shown to the user in plain words
            gui.post(failed, str(e))
        gui.post(finished, result)

    return start_thread(work, "timbrel-call")


def warm_up(spec: Any) -> None:
    """Run each numba-backed path once on a short synthetic tone (feature analysis, streaming, MLP and
    KNN fit and prediction, scaler, the live ring/worker path). Loading compiled kernels holds the GIL for a while; doing it once right
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
    from model.knn import KNNClassifier
    from model.scalers import Standardize

    knn = KNNClassifier(num_neighbours=3)
    knn.fit(ds, lb)
    knn.predict_proba_point(np.array([0.0, 0.5]))
    scaler = Standardize()
    scaler.fit(ds)
    scaler.transform_point(np.array([0.0, 0.5]))

    # The live path end to end (ring buffer, worker thread, streaming features) on the same tone.
    from dsp.live import FileInput, LiveWorker

    class _Probe:
        level = "frame"
        labels = ["a"]

        def __init__(self) -> None:
            self.spec = spec

        def predict_proba_point(self, vec) -> dict[str, float]:
            return {"a": 1.0}

    worker = LiveWorker(FileInput(y, sr), _Probe())
    worker.start()
    worker.join(30)
    worker.stop()

    # Python's full garbage collections walk every container and hold the GIL throughout: with
    # Qt, pyqtgraph, numba and librosa loaded they took 90-130 ms, stalling the GUI mid-analysis.
    # Freezing what exists after start-up leaves them only the objects made since.
    import gc

    gc.collect()
    gc.freeze()
