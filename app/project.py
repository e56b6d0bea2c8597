"""A Timbrel project: one self-contained folder the GUI opens, edits and saves.

Layout on disk (everything a model needs travels with the folder):

    project.json          classes (name, colour), clips (label, file, duration, frames), feature
                          spec, training settings — Timbrel's own index of the folder
    dataset.json          FluCoMa DataSet, one point per usable frame, ids "<clip_id>-<frame>"
    labels.json           FluCoMa LabelSet with the same ids
    clips/                the audio, copied in on import so the project is portable
    model.timbrel.json    the last trained bundle (spec + scaler + model), when there is one

Every file is written atomically (temporary file in the same folder, then os.replace), and
project.json last, so a crash mid-save leaves the previous consistent project readable.
No Qt here: the GUI, tests and scripts share this logic.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.jsonio import atomic_file

FORMAT = "timbrel-project"
VERSION = 1
PROJECT_FILE = "project.json"
DATASET_FILE = "dataset.json"
LABELS_FILE = "labels.json"
BUNDLE_FILE = "model.timbrel.json"
CLIPS_DIR = "clips"

# Colour-blind friendly palette (Okabe-Ito), assigned to classes in order.
PALETTE = ["#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]


class ProjectError(Exception):
    """A project problem explained in plain words (shown to the user as is)."""


@dataclass
class ClassInfo:
    name: str
    colour: str


@dataclass
class Clip:
    id: str
    label: str
    file: str  # relative to the project folder, or absolute for a read-only project's assets
    duration: float
    frames: int  # usable frames (points in the DataSet)
    source: str = ""  # the name the file had when it was imported


@dataclass
class RemovedClip:
    """Everything needed to undo a deletion: the clip, its points, and where its audio went."""

    clip: Clip
    index: np.ndarray
    rows: np.ndarray
    trash: str | None = None


def app_data_dir() -> Path:
    """Where untitled projects, the demo cache and recents live ($TIMBREL_HOME overrides)."""
    env = os.environ.get("TIMBREL_HOME")
    if env:
        base = Path(env)
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "timbrel"
    base.mkdir(parents=True, exist_ok=True)
    return base


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never half of one."""
    with atomic_file(path) as f:
        f.write(text)


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=1))


def atomic_write_json_yielding(path: Path, obj: Any) -> None:
    """Like json.dumps(obj, separators=(",", ":")) written atomically, but GIL-friendly.

    The C JSON encoder holds the GIL for the whole document, so encoding a large DataSet on a
    worker thread froze the GUI for 100+ ms. The pure-Python encoder (what `_one_shot=False`
    selects) produces the same text and lets other threads run between chunks.
    """
    enc = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
    atomic_write_text(path, "".join(enc.iterencode(obj, _one_shot=False)))


def staging_dir(folder: Path) -> Path:
    """Where worker threads copy incoming audio before the GUI thread renames it into clips/."""
    d = Path(folder) / CLIPS_DIR / ".incoming"
    d.mkdir(parents=True, exist_ok=True)
    return d


def atomic_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as source, atomic_file(dst, "wb") as f:
        shutil.copyfileobj(source, f)


def slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.]+", "_", text).strip("_.")
    return s or "clip"


def split_point_id(point_id: str) -> tuple[str, int]:
    """'<clip_id>-<frame>' -> (clip_id, frame). Clip ids may contain '-' themselves."""
    clip_id, _, frame = point_id.rpartition("-")
    return clip_id, int(frame)


class Project:
    """Classes, clips and their analysed frames, plus settings; saved as one folder."""

    def __init__(self, folder: Path | str | None = None, *, read_only: bool = False):
        self.folder: Path | None = Path(folder) if folder is not None else None
        self.read_only = read_only
        self.classes: list[ClassInfo] = []
        self.clips: dict[str, Clip] = {}
        self.columns: list[str] = []
        self.features: dict[str, Any] = {}  # FeatureSpec.to_dict(); empty = the default spec
        self.training: dict[str, Any] = {}
        self.title: str | None = None
        # Points per clip: frame numbers and the feature rows (one row per usable frame).
        self._index: dict[str, np.ndarray] = {}
        self._rows: dict[str, np.ndarray] = {}
        self.dirty = False
        self.revision = 0  # bumps on every change, so views can tell when to refresh

    # ---------------------------------------------------------------- create / open / save
    @classmethod
    def create(cls, folder: Path | str) -> "Project":
        folder = Path(folder)
        if (folder / PROJECT_FILE).exists():
            raise ProjectError(f"{folder} already holds a Timbrel project.")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CLIPS_DIR).mkdir(exist_ok=True)
        p = cls(folder)
        p.save()
        return p

    @classmethod
    def untitled(cls) -> "Project":
        """A new project in the app's data folder, so autosave has somewhere to write from the start."""
        base = app_data_dir() / "projects"
        base.mkdir(parents=True, exist_ok=True)
        n = 1
        while (base / f"Untitled {n}").exists():
            n += 1
        return cls.create(base / f"Untitled {n}")

    @classmethod
    def open(cls, folder: Path | str, *, read_only: bool = False) -> "Project":
        from model.dataset import DataSet, LabelSet

        folder = Path(folder)
        if folder.is_file() and folder.name == PROJECT_FILE:
            folder = folder.parent
        meta_path = folder / PROJECT_FILE
        if not meta_path.exists():
            raise ProjectError(f"{folder} is not a Timbrel project (it has no {PROJECT_FILE}).")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ProjectError(f"Cannot read {meta_path}: {e}") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ProjectError(f"{meta_path} is not a Timbrel project file.")
        if int(meta.get("version", 0)) > VERSION:
            raise ProjectError(
                f"{folder} was saved by a newer Timbrel (project version {meta.get('version')}); "
                "update Timbrel to open it."
            )
        p = cls(folder, read_only=read_only)
        try:
            p.title = meta.get("title")
            p.classes = [ClassInfo(**c) for c in meta.get("classes", [])]
            p.clips = {c["id"]: Clip(**c) for c in meta.get("clips", [])}
            p.columns = list(meta.get("columns", []))
            p.features = dict(meta.get("features", {}))
            p.training = dict(meta.get("training", {}))
        except (TypeError, KeyError) as e:
            raise ProjectError(f"{meta_path} is damaged ({e}).") from None
        ds_path, lb_path = folder / DATASET_FILE, folder / LABELS_FILE
        if p.clips and ds_path.exists():
            try:
                ds = DataSet.load(ds_path)
            except (OSError, ValueError) as e:
                raise ProjectError(f"Cannot read {ds_path}: {e}") from None
            ids, matrix = ds.to_numpy()
            groups: dict[str, list[int]] = {}
            frames: dict[str, list[int]] = {}
            for i, pid in enumerate(ids):
                cid, fr = split_point_id(str(pid))
                groups.setdefault(cid, []).append(i)
                frames.setdefault(cid, []).append(fr)
            matrix = np.asarray(matrix, dtype=np.float64)
            for cid in p.clips:
                rows = groups.get(cid, [])
                order = np.argsort(frames.get(cid, []), kind="stable")
                p._index[cid] = np.asarray(frames.get(cid, []), dtype=np.int64)[order]
                p._rows[cid] = matrix[np.asarray(rows, dtype=np.int64)[order]] if rows else np.zeros(
                    (0, len(p.columns))
                )
            # The LabelSet is authoritative for labels written by other tools; keep clips in step.
            if lb_path.exists():
                try:
                    lb = LabelSet.load(lb_path)
                    for pid in lb.ids:
                        cid, _ = split_point_id(str(pid))
                        if cid in p.clips:
                            p.clips[cid].label = lb.get_label(pid)
                except (OSError, ValueError) as e:
                    raise ProjectError(f"Cannot read {lb_path}: {e}") from None
        for cid in p.clips:
            p._index.setdefault(cid, np.zeros(0, dtype=np.int64))
            p._rows.setdefault(cid, np.zeros((0, len(p.columns))))
        for c in p.clips.values():
            if c.label not in p.class_names():
                p.classes.append(ClassInfo(c.label, p._next_colour()))
        return p

    def to_meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "title": self.title,
            "classes": [asdict(c) for c in self.classes],
            "clips": [asdict(c) for c in self.clips.values()],
            "columns": self.columns,
            "features": self.features,
            "training": self.training,
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything save() writes, cheap to take on the GUI thread; written by write_snapshot anywhere."""
        return {"meta": self.to_meta(), "table": self.clip_table(), "cols": max(len(self.columns), 1),
                "revision": (id(self), self.revision)}

    def save(self) -> None:
        """Write the whole project atomically (data files first, the index last)."""
        if self.folder is None:
            raise ProjectError("This project has no folder yet; use Save As.")
        if self.read_only:
            raise ProjectError("This project is read-only; use Save As to keep your own copy.")
        write_snapshot(self.folder, self.snapshot())
        self.dirty = False

    def save_as(self, folder: Path | str) -> None:
        """Copy the project (audio included) into `folder` and make that the project's home."""
        folder = Path(folder)
        if folder.exists() and any(folder.iterdir()) and not (folder / PROJECT_FILE).exists():
            raise ProjectError(f"{folder} is not empty; choose an empty folder or a new name.")
        if self.folder is not None and folder.resolve() == self.folder.resolve():
            self.read_only = False
            self.save()
            return
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CLIPS_DIR).mkdir(exist_ok=True)
        new_files: dict[str, str] = {}
        for c in self.clips.values():
            src = self.clip_path(c)
            rel = self._unique_clip_name(folder, c.id, src.suffix)
            atomic_copy(src, folder / rel)
            new_files[c.id] = rel
        old_bundle = self.bundle_path()
        for cid, rel in new_files.items():
            self.clips[cid].file = rel
        self.folder = folder
        self.read_only = False
        if old_bundle is not None and old_bundle.exists():
            atomic_copy(old_bundle, folder / BUNDLE_FILE)
        self.save()

    # ---------------------------------------------------------------- classes
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def colour_of(self, name: str) -> str:
        for c in self.classes:
            if c.name == name:
                return c.colour
        return "#888888"

    def _next_colour(self) -> str:
        used = {c.colour for c in self.classes}
        for col in PALETTE:
            if col not in used:
                return col
        return PALETTE[len(self.classes) % len(PALETTE)]

    def add_class(self, name: str, colour: str | None = None) -> ClassInfo:
        name = name.strip()
        if not name:
            raise ProjectError("A class needs a name.")
        if name in self.class_names():
            raise ProjectError(f"There is already a class called “{name}”.")
        info = ClassInfo(name, colour or self._next_colour())
        self.classes.append(info)
        self._changed()
        return info

    def ensure_class(self, name: str) -> ClassInfo:
        for c in self.classes:
            if c.name == name:
                return c
        return self.add_class(name)

    def rename_class(self, old: str, new: str) -> None:
        new = new.strip()
        if not new:
            raise ProjectError("A class needs a name.")
        if new != old and new in self.class_names():
            raise ProjectError(f"There is already a class called “{new}”.")
        for c in self.classes:
            if c.name == old:
                c.name = new
        for clip in self.clips.values():
            if clip.label == old:
                clip.label = new
        self._changed()

    def set_colour(self, name: str, colour: str) -> None:
        for c in self.classes:
            if c.name == name:
                c.colour = colour
        self._changed()

    def delete_class(self, name: str) -> tuple[ClassInfo, int, list[RemovedClip]]:
        """Remove a class and its clips; returns what undo needs to put them back."""
        pos = self.class_names().index(name)
        info = self.classes.pop(pos)
        removed = [self.remove_clip(cid) for cid in [c.id for c in self.clips.values() if c.label == name]]
        self._changed()
        return info, pos, removed

    def restore_class(self, info: ClassInfo, pos: int, removed: list[RemovedClip]) -> None:
        self.classes.insert(min(pos, len(self.classes)), info)
        for r in removed:
            self.restore_clip(r)
        self._changed()

    # ---------------------------------------------------------------- clips
    def clips_of(self, label: str) -> list[Clip]:
        return [c for c in self.clips.values() if c.label == label]

    def clip_path(self, clip: Clip | str) -> Path:
        if isinstance(clip, str):
            clip = self.clips[clip]
        p = Path(clip.file)
        if p.is_absolute() or self.folder is None:
            return p
        return self.folder / p

    def _unique_clip_name(self, folder: Path, stem: str, suffix: str) -> str:
        rel = f"{CLIPS_DIR}/{slug(stem)}{suffix.lower()}"
        n = 2
        while (folder / rel).exists():
            rel = f"{CLIPS_DIR}/{slug(stem)}_{n}{suffix.lower()}"
            n += 1
        return rel

    def new_clip_id(self, source: Path | str, label: str) -> str:
        """A readable, unique id like 'oboe_A4' (the FluCoMa point ids are '<id>-<frame>')."""
        base = slug(Path(source).stem)
        cid, n = base, 2
        while cid in self.clips:
            cid = f"{base}_{n}"
            n += 1
        return cid

    def add_clip(
        self,
        label: str,
        source: Path | str,
        index: np.ndarray,
        rows: np.ndarray,
        *,
        columns: list[str],
        duration: float,
        copy: bool = True,
        staged: Path | None = None,
    ) -> Clip:
        """Label an analysed file: copy its audio into clips/ and keep its usable frames.

        `staged`: a copy already made inside this project's folder (by a worker thread), which is
        renamed into place instead of copying again.
        """
        self._check_writable()
        source = Path(source)
        rows = np.asarray(rows, dtype=np.float64).reshape(len(index), -1)
        if self.columns and list(columns) != self.columns:
            raise ProjectError(
                "This clip was analysed with different features from the rest of the project."
            )
        self.columns = list(columns)
        self.ensure_class(label)
        cid = self.new_clip_id(source, label)
        if copy and self.folder is not None:
            (self.folder / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
            rel = self._unique_clip_name(self.folder, cid, source.suffix)
            if staged is not None and Path(staged).exists():
                os.replace(staged, self.folder / rel)
            else:
                atomic_copy(source, self.folder / rel)
            file = rel
        else:
            file = str(source.resolve())
        clip = Clip(cid, label, file, float(duration), int(len(index)), source.name)
        self.clips[cid] = clip
        self._index[cid] = np.asarray(index, dtype=np.int64)
        self._rows[cid] = rows
        self._changed()
        return clip

    def remove_clip(self, clip_id: str) -> RemovedClip:
        """Forget a clip; its audio is moved to a trash folder (not deleted) so undo can bring it back."""
        self._check_writable()
        clip = self.clips.pop(clip_id)
        rec = RemovedClip(clip, self._index.pop(clip_id), self._rows.pop(clip_id))
        src = self.clip_path(clip)
        if self.folder is not None and not Path(clip.file).is_absolute() and src.exists():
            trash = self.folder / ".trash"
            trash.mkdir(exist_ok=True)
            dst = trash / src.name
            os.replace(src, dst)
            rec.trash = str(dst)
        self._changed()
        return rec

    def restore_clip(self, rec: RemovedClip) -> None:
        self._check_writable()
        if rec.trash and Path(rec.trash).exists() and self.folder is not None:
            os.replace(rec.trash, self.folder / rec.clip.file)
        self.ensure_class(rec.clip.label)
        self.clips[rec.clip.id] = rec.clip
        self._index[rec.clip.id] = rec.index
        self._rows[rec.clip.id] = rec.rows
        self._changed()

    def relabel_clip(self, clip_id: str, label: str) -> str:
        """Move a clip to another class; returns the old label (for undo)."""
        self._check_writable()
        old = self.clips[clip_id].label
        self.ensure_class(label)
        self.clips[clip_id].label = label
        self._changed()
        return old

    # ---------------------------------------------------------------- data for views and training
    def points(self) -> tuple[list[str], np.ndarray, list[str]]:
        """All points: ids, feature matrix (n, cols), label per point; clips in insertion order."""
        ids: list[str] = []
        mats: list[np.ndarray] = []
        labels: list[str] = []
        for cid, clip in self.clips.items():
            idx = self._index[cid]
            ids.extend(f"{cid}-{int(i)}" for i in idx)
            mats.append(self._rows[cid])
            labels.extend([clip.label] * len(idx))
        matrix = np.vstack(mats) if mats else np.zeros((0, len(self.columns)))
        return ids, matrix, labels

    def clip_table(self) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
        """(clip id, label, frame numbers, rows) per clip: shares the arrays (never edited in place),
        so it is cheap to take on the GUI thread and safe to read on another."""
        return [(cid, c.label, self._index[cid], self._rows[cid]) for cid, c in self.clips.items()]

    def clip_frames(self, clip_id: str) -> tuple[np.ndarray, np.ndarray]:
        return self._index[clip_id], self._rows[clip_id]

    def dataset(self):
        return make_dataset(*self.points()[:2], cols=max(len(self.columns), 1))

    def labelset(self):
        ids, _, labels = self.points()
        return make_labelset(ids, labels)

    def n_points(self) -> int:
        return sum(len(v) for v in self._index.values())

    def bundle_path(self) -> Path | None:
        return None if self.folder is None else self.folder / BUNDLE_FILE

    def display_name(self) -> str:
        if self.title:
            return self.title
        return self.folder.name if self.folder is not None else "Untitled"

    # ---------------------------------------------------------------- internals
    def _check_writable(self) -> None:
        if self.read_only:
            raise ProjectError("This project is read-only; use Save As to keep your own copy.")

    def _changed(self) -> None:
        self.dirty = True
        self.revision += 1


def table_points(table: list[tuple[str, str, np.ndarray, np.ndarray]], cols: int
                 ) -> tuple[list[str], np.ndarray, list[str]]:
    """Point ids, matrix and labels from a Project.clip_table() (for worker threads)."""
    ids: list[str] = []
    labels: list[str] = []
    mats = []
    for cid, label, index, rows in table:
        ids.extend(f"{cid}-{int(i)}" for i in index)
        labels.extend([label] * len(index))
        mats.append(rows)
    matrix = np.vstack(mats) if mats else np.zeros((0, cols))
    return ids, matrix, labels


def make_dataset(ids: list[str], matrix: np.ndarray, cols: int):
    from model.dataset import DataSet

    if len(ids) == 0:
        return DataSet(cols)
    return DataSet.from_numpy(ids, np.asarray(matrix, dtype=np.float64).reshape(len(ids), -1))


def make_labelset(ids: list[str], labels: list[str]):
    from model.dataset import LabelSet

    lb = LabelSet()
    for pid, lab in zip(ids, labels):
        lb.add_label(pid, lab)
    return lb


_write_lock = threading.Lock()
_written: dict[tuple[str, int], int] = {}  # (folder, project id) -> newest revision written


def write_snapshot(folder: Path, snap: dict[str, Any]) -> bool:
    """Write a snapshot (see Project.snapshot) into `folder`; safe to call from a worker thread.

    Writes are serialised, and a snapshot older than one already written to the same folder is
    skipped, so a slow background autosave can never overwrite a newer save with older data.
    Returns False when skipped.
    """
    folder = Path(folder)
    owner, revision = snap.get("revision", (0, -1))
    key = (str(folder.resolve()), owner)
    with _write_lock:
        if _written.get(key, -1) > revision:
            return False
        folder.mkdir(parents=True, exist_ok=True)
        (folder / CLIPS_DIR).mkdir(exist_ok=True)
        ids, matrix, labels = table_points(snap["table"], snap["cols"])
        # model/ builds the FluCoMa dicts; we encode them without holding the GIL for long.
        atomic_write_json_yielding(folder / DATASET_FILE, make_dataset(ids, matrix, snap["cols"]).to_dict())
        atomic_write_json_yielding(folder / LABELS_FILE, make_labelset(ids, labels).to_dict())
        atomic_write_json(folder / PROJECT_FILE, snap["meta"])
        _written[key] = revision
    return True


def load_recent(limit: int = 8) -> list[str]:
    path = app_data_dir() / "recent.json"
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
        return [str(x) for x in items if (Path(x) / PROJECT_FILE).exists()][:limit]
    except (OSError, ValueError, TypeError):
        return []


def add_recent(folder: Path | str, limit: int = 8) -> list[str]:
    folder = str(Path(folder).resolve())
    items = [folder] + [x for x in load_recent(limit) if x != folder]
    items = items[:limit]
    try:
        atomic_write_json(app_data_dir() / "recent.json", items)
    except OSError:
        pass  # recents are a convenience; never fail a save over them
    return items
