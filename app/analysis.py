"""Files and folders -> a labelled DataSet/LabelSet, one point per usable frame (or per clip).

The label of a file is the name of the folder it sits in (``oboe/A4.flac`` -> ``oboe``) unless one
is given. A file that cannot be analysed is recorded with its reason and the rest carry on: one bad
clip in a folder of hundreds must not cost the user the other results.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from dsp.audio import SUPPORTED_EXTENSIONS
from dsp.features import STATISTICS, FeatureExtractor, FeatureSpec, Frames, clip_statistics, frame_rows
from model.dataset import DataSet, LabelSet
from model.jsonio import save_json

LEVELS = ("frame", "clip")
ANALYSIS_FILE = "analysis.json"      # spec, columns, clips and failures beside dataset.json
DATASET_FILE = "dataset.json"
LABELS_FILE = "labels.json"
ANALYSIS_FORMAT = "timbrel-analysis"
ANALYSIS_VERSION = 1

Progress = Callable[[int, int, Path], None]   # (files done, files total, file just finished)


class AnalysisError(ValueError):
    """Nothing usable to analyse, or an analysis folder that cannot be read."""


@dataclass(frozen=True)
class FileFailure:
    path: Path
    reason: str


@dataclass(frozen=True)
class Clip:
    path: Path
    label: str
    clip_id: str
    frames: int          # usable frames that went into the DataSet (1 per clip at clip level)


@dataclass
class Analysis:
    """The result of analysing many files: what a Trainer and a Bundle need."""
    spec: FeatureSpec
    level: str
    columns: list[str]
    dataset: DataSet
    labels: LabelSet
    clips: list[Clip] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)

    def classes(self) -> list[str]:
        return list(self.labels.classes())

    def clip_of(self, point_id: str) -> str:
        """The clip a DataSet point belongs to (frame ids are ``<clip_id>-<frame>``)."""
        return point_id.rsplit("-", 1)[0] if self.level == "frame" else point_id

    def save(self, out_dir: str | Path) -> None:
        """Write FluCoMa ``dataset.json`` and ``labels.json`` plus Timbrel's ``analysis.json``."""
        out = Path(out_dir)
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._save(out)
        except OSError as exc:   # name the folder, not a temporary file inside it
            raise AnalysisError(f"{out}: cannot write the analysis ({exc.strerror or exc})") from None

    def _save(self, out: Path) -> None:
        self.dataset.save(out / DATASET_FILE)
        self.labels.save(out / LABELS_FILE)
        meta = {
            "format": ANALYSIS_FORMAT,
            "version": ANALYSIS_VERSION,
            "spec": self.spec.to_dict(),
            "level": self.level,
            "columns": self.columns,
            "clips": [{"path": str(c.path), "label": c.label, "clip_id": c.clip_id, "frames": c.frames}
                      for c in self.clips],
            "failures": [{"path": str(f.path), "reason": f.reason} for f in self.failures],
        }
        save_json(out / ANALYSIS_FILE, meta)

    @classmethod
    def load(cls, folder: str | Path) -> "Analysis":
        """Read a folder written by :meth:`save` (``timbrel analyse --out DIR``)."""
        folder = Path(folder)
        meta_path = folder / ANALYSIS_FILE
        if not meta_path.is_file():
            raise AnalysisError(f"{folder}: no {ANALYSIS_FILE} (the feature settings); "
                                f"make the folder with `timbrel analyse ... --out {folder}`")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("format") != ANALYSIS_FORMAT:
                raise AnalysisError(f"{meta_path}: not a Timbrel analysis file")
            if meta.get("version") != ANALYSIS_VERSION:
                raise AnalysisError(f"{meta_path}: analysis version {meta.get('version')!r} is not "
                                    f"supported (this Timbrel reads version {ANALYSIS_VERSION})")
            spec = FeatureSpec.from_dict(meta["spec"])
            dataset = DataSet.load(folder / DATASET_FILE)
            labels = LabelSet.load(folder / LABELS_FILE)
            clips = [Clip(Path(c["path"]), c["label"], c["clip_id"], int(c["frames"]))
                     for c in meta.get("clips", [])]
            failures = [FileFailure(Path(f["path"]), f["reason"]) for f in meta.get("failures", [])]
            level, columns = meta["level"], list(meta["columns"])
        except AnalysisError:
            raise
        except (OSError, ValueError, KeyError, TypeError, RecursionError) as exc:
            raise AnalysisError(f"{folder}: cannot read the analysis ({_reason(exc)})") from exc
        if level not in LEVELS:
            raise AnalysisError(f"{meta_path}: unknown level {level!r}")
        if columns != input_columns(spec, level) or dataset.cols != len(columns):
            # the files were edited or mixed from different analyses: a model trained on them
            # would not match the features computed at prediction time
            raise AnalysisError(f"{folder}: the analysis files disagree (feature settings give "
                                f"{len(input_columns(spec, level))} columns, analysis.json lists "
                                f"{len(columns)}, dataset.json has {dataset.cols}); analyse the audio again")
        return cls(spec, level, columns, dataset, labels, clips, failures)


def input_columns(spec: FeatureSpec, level: str) -> list[str]:
    """A point's columns: the spec's per frame, or per clip their statistics as clip_statistics names them."""
    cols = spec.columns()
    return cols if level == "frame" else [f"{c}_{s}" for c in cols for s in STATISTICS]


def find_audio_files(paths: Iterable[str | Path]) -> list[Path]:
    """Audio files named directly or found (recursively) in folders, in a stable order.

    A folder contributes files with a supported extension; a file named explicitly is always
    taken, so that a broken or oddly named file is reported rather than silently skipped.
    Raises FileNotFoundError for a path that does not exist. See also :func:`scan_audio_files`.
    """
    paths = [Path(p) for p in paths]
    for p in paths:
        if not (p.exists() or p.is_symlink()):
            raise FileNotFoundError(f"{p}: no such file or folder")
    return scan_audio_files(paths)[0]


def scan_audio_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileFailure]]:
    """:func:`find_audio_files`, with paths that do not exist and folders that cannot be searched
    (e.g. permission denied) returned as failures, so one typo does not cost the other files.

    Symbolic links are followed (a label folder is often a link to the audio elsewhere), each real
    folder once, so a link loop ends. A broken link with an audio suffix is returned as a file, for
    ``load`` to report. Hidden files and folders (".name", e.g. macOS's "._clip.wav" metadata
    files on shared drives) are skipped inside folders. Each real file is taken once, in the order
    the paths are given.
    """
    found: list[Path] = []
    problems: list[FileFailure] = []
    seen: set[Path] = set()
    for p in map(Path, paths):
        if p.is_dir():
            candidates = _walk(p, problems)
        elif p.exists() or p.is_symlink():
            candidates = [p]
        else:
            problems.append(FileFailure(p, "no such file or folder"))
            continue
        for f in candidates:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                found.append(f)
    return found, problems


def _walk(root: Path, problems: list[FileFailure]) -> list[Path]:
    exts = {e.lower() for e in SUPPORTED_EXTENSIONS}
    files: list[Path] = []
    visited: set[str] = set()

    def unreadable(err: OSError) -> None:
        problems.append(FileFailure(Path(err.filename or root),
                                    f"folder cannot be searched ({err.strerror or err})"))

    for folder, dirs, names in os.walk(root, onerror=unreadable, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:           # a link back to a folder already searched
            dirs[:] = []
            continue
        visited.add(real)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        files.extend(Path(folder, n) for n in names if Path(n).suffix.lower() in exts and not n.startswith("."))
    return sorted(files)


def label_for(path: Path, label: str | None = None) -> str:
    """The explicit label, else the name of the folder holding the file.

    The folder the user put the file (or a link to it) in: links are not resolved, so
    ``trombone/x.wav -> /recordings/x.wav`` is a trombone.
    """
    if label:
        return label
    parent = Path(os.path.abspath(path)).parent.name
    return parent or "unlabelled"


class _ClipIds:
    """Unique, stable clip ids ``<label>/<stem>`` (``~2``, ``~3`` for repeats, in file order)."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def make(self, label: str, path: Path) -> str:
        base = f"{label}/{path.stem}"
        cid, n = base, 1
        while cid in self._used:
            n += 1
            cid = f"{base}~{n}"
        self._used.add(cid)
        return cid


def analyse_paths(paths: Iterable[str | Path], spec: FeatureSpec | None = None, *,
                  label: str | None = None, level: str = "frame",
                  progress: Progress | None = None,
                  stop: threading.Event | None = None) -> Analysis:
    """Analyse every audio file in ``paths`` into one DataSet + LabelSet.

    Files that fail (unreadable, corrupt, no usable frames) and folders that cannot be searched
    are collected in ``failures``;
    ``stop`` (set from another thread) ends the loop after the current file.
    """
    files, problems = scan_audio_files(paths)
    analysis = analyse_files([(f, label_for(f, label)) for f in files], spec, level=level,
                             progress=progress, stop=stop)
    analysis.failures[:0] = problems
    return analysis


def analyse_files(labelled: list[tuple[Path, str]], spec: FeatureSpec | None = None, *,
                  level: str = "frame", progress: Progress | None = None,
                  stop: threading.Event | None = None) -> Analysis:
    """Analyse explicit (file, label) pairs; see :func:`analyse_paths`."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {', '.join(LEVELS)}, not {level!r}")
    spec = spec or FeatureSpec()
    extractor = FeatureExtractor(spec)
    frame_columns = list(spec.columns())
    columns = input_columns(spec, level)
    dataset = DataSet(len(columns))
    labels = LabelSet()
    clips: list[Clip] = []
    failures: list[FileFailure] = []
    ids = _ClipIds()
    total = len(labelled)
    for done, (path, lab) in enumerate(labelled, start=1):
        if stop is not None and stop.is_set():
            break
        try:
            frames = extractor.analyse_file(path, require_usable=True)
            clip_id = ids.make(lab, Path(path))
            point_ids, rows = _rows(frames, level, frame_columns, clip_id)
        except Exception as exc:  # noqa: BLE001 - one bad file is reported, the rest go on
            failures.append(FileFailure(Path(path), _reason(exc)))
        else:
            for pid, row in zip(point_ids, rows):
                dataset.add_point(pid, row)
                labels.add_label(pid, lab)
            clips.append(Clip(Path(path), lab, clip_id, len(point_ids)))
        if progress is not None:
            progress(done, total, Path(path))
    return Analysis(spec, level, list(columns), dataset, labels, clips, failures)


def _rows(frames: Frames, level: str, columns: list[str], clip_id: str) -> tuple[list[str], np.ndarray]:
    if level == "frame":
        point_ids, rows = frame_rows(frames, clip_id)
        if len(point_ids) == 0:
            raise ValueError("no usable frames (too quiet or unpitched)")
        return list(point_ids), np.asarray(rows, dtype=np.float64)
    _, vec = clip_statistics(frames, columns)
    return [clip_id], np.asarray(vec, dtype=np.float64).reshape(1, -1)


def _reason(exc: BaseException) -> str:
    """A one-line reason: the message of expected errors, the type too for anything else."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ValueError, OSError)) or type(exc).__module__.startswith("dsp"):
        return msg
    return f"{type(exc).__name__}: {msg}"
