"""One file (``*.timbrel.json``) that holds everything needed to classify: the feature spec, the
scaler and the model (both in FluCoMa's JSON), the class labels, and a format version.

Loading a bundle gives a ready classifier whose features are computed exactly as at training time,
because the extractor is rebuilt from the stored spec. ``predict_proba_point(raw_vec)`` is what the
live worker calls on every frame.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.analysis import input_columns
from app.generalise import soften
from dsp.audio import is_audio_file
from dsp.features import FeatureExtractor, FeatureSpec, Frames, clip_statistics
from model.jsonio import save_json
from model.scalers import Normalize, RobustScale, Standardize

FORMAT = "timbrel-bundle"
VERSION = 1
SUFFIX = ".timbrel.json"

_SCALERS = {"standardize": Standardize, "normalize": Normalize, "robust": RobustScale}


def _model_class(name: str):
    """The model class stored under ``name`` (imported on demand)."""
    if name == "mlp":
        from model.mlp import MLPClassifier
        return MLPClassifier
    if name == "knn":
        from model.knn import KNNClassifier
        return KNNClassifier
    raise KeyError(name)


def _model_name(model: Any) -> str | None:
    kind = type(model).__name__
    return {"MLPClassifier": "mlp", "KNNClassifier": "knn"}.get(kind)


# KNN settings that FluCoMa's KNNClassifier JSON does not store; the bundle keeps them beside it.
_KNN_OPTIONS = ("num_neighbours", "weight")


def _model_options(model: Any) -> dict:
    if _model_name(model) != "knn":
        return {}
    return {"num_neighbours": int(model.num_neighbours), "weight": bool(model.weight)}


class BundleError(ValueError):
    """A bundle that cannot be read or used: corrupt, foreign, or from an unknown version."""


@dataclass
class FilePrediction:
    path: str
    label: str | None                 # None when ``unknown``
    confidence: float                 # mean probability of the best class over the file's frames
    probabilities: dict[str, float]   # mean probability of every class
    frames: int                       # usable frames the decision rests on
    shares: dict[str, float]          # share of frames whose own winner was each class
    unknown: bool = False             # most frames are unlike anything the model was trained on
    best: str = ""                    # the most probable class, also when ``unknown``

    def to_dict(self) -> dict:
        return {"path": self.path, "label": self.label, "unknown": self.unknown,
                "confidence": self.confidence, "probabilities": self.probabilities,
                "frames": self.frames, "shares": self.shares}


@dataclass
class Bundle:
    spec: FeatureSpec
    scaler: Any                       # fitted model.scalers object, or None
    model: Any                        # trained MLPClassifier / KNNClassifier
    labels: list[str]
    level: str = "frame"              # "frame": one point per frame; "clip": per-clip statistics
    columns: list[str] = field(default_factory=list)
    training: dict = field(default_factory=dict)   # settings and fit errors, for the record
    temperature: float = 1.0          # calibration fitted on held-out clips (app/generalise.py)
    novelty: Any = None               # model.novelty.NoveltyDetector, or None: never "unknown"

    # ---- classification -------------------------------------------------------------------
    def _scaled(self, raw_vec: np.ndarray) -> np.ndarray:
        vec = np.asarray(raw_vec, dtype=np.float64)
        if self.scaler is not None:
            vec = np.asarray(self.scaler.transform_point(vec), dtype=np.float64)
        return vec

    def predict_proba_point(self, raw_vec: np.ndarray) -> dict[str, float]:
        """Calibrated class probabilities for one unscaled feature vector (scaler, model, temperature)."""
        probs = self.model.predict_proba_point(self._scaled(raw_vec))
        return soften({label: float(probs.get(label, 0.0)) for label in self.labels}, self.temperature)

    def is_unknown_point(self, raw_vec: np.ndarray) -> bool:
        """True when the vector is farther from the training data than held-out clips were."""
        return self.novelty is not None and self.novelty.is_novel_point(self._scaled(raw_vec))

    def predict_point(self, raw_vec: np.ndarray) -> str:
        probs = self.predict_proba_point(raw_vec)
        return max(probs, key=lambda c: probs[c])

    def extractor(self) -> FeatureExtractor:
        """A FeatureExtractor computing features exactly as at training time."""
        return FeatureExtractor(self.spec)

    def predict_frames(self, frames: Frames, path: str = "") -> FilePrediction:
        """Decide on already-analysed frames (only the usable ones count)."""
        if self.level == "clip":
            _, vec = clip_statistics(frames, list(self.spec.columns()))
            probs = self.predict_proba_point(np.asarray(vec, dtype=np.float64))
            winner = max(probs, key=lambda c: probs[c])
            n = int(np.count_nonzero(frames.usable))
            return FilePrediction(path, winner, probs[winner], probs, n,
                                  {c: float(c == winner) for c in self.labels})
        rows = np.asarray(frames.values, dtype=np.float64)[np.asarray(frames.usable, dtype=bool)]
        if len(rows) == 0:
            raise ValueError(f"{path or 'audio'}: no usable frames (too quiet or unpitched)")
        total = dict.fromkeys(self.labels, 0.0)
        votes = dict.fromkeys(self.labels, 0)
        for row in rows:
            probs = self.predict_proba_point(row)
            for c, p in probs.items():
                total[c] += p
            votes[max(probs, key=lambda c: probs[c])] += 1
        mean = {c: total[c] / len(rows) for c in self.labels}
        winner = max(mean, key=lambda c: mean[c])
        unknown = self.unknown_share(rows) > 0.5
        return FilePrediction(path, None if unknown else winner, mean[winner], mean, len(rows),
                              {c: votes[c] / len(rows) for c in self.labels}, unknown, winner)

    def unknown_share(self, raw_rows: np.ndarray) -> float:
        """The share of these (unscaled) frames that are unlike the training data (0 without a detector)."""
        if self.novelty is None or len(raw_rows) == 0:
            return 0.0
        x = np.asarray(raw_rows, dtype=np.float64)
        if self.scaler is not None:
            x = np.array([self.scaler.transform_point(r) for r in x], dtype=np.float64)
        return float(np.mean(self.novelty.score(x) > self.novelty.threshold))

    def predict_file(self, path: str | Path) -> FilePrediction:
        """Analyse a file with the training spec and decide by mean probability over its frames."""
        return self.predict_frames(self.extractor().analyse_file(path, require_usable=True), str(path))

    # ---- JSON -----------------------------------------------------------------------------
    def to_dict(self) -> dict:
        scaler_name = next((n for n, c in _SCALERS.items() if isinstance(self.scaler, c)), None)
        model_name = _model_name(self.model)
        if self.scaler is not None and scaler_name is None:
            raise BundleError(f"cannot store a scaler of type {type(self.scaler).__name__}")
        if model_name is None:
            raise BundleError(f"cannot store a model of type {type(self.model).__name__}")
        return {
            "format": FORMAT,
            "version": VERSION,
            "spec": self.spec.to_dict(),
            "level": self.level,
            "columns": list(self.columns),
            "labels": list(self.labels),
            "scaler": None if self.scaler is None else {"type": scaler_name, "data": self.scaler.to_dict()},
            "model": {"type": model_name, "data": self.model.to_dict(), **_model_options(self.model)},
            "training": self.training,
            "calibration": {"temperature": self.temperature,
                            "novelty": None if self.novelty is None else self.novelty.to_dict()},
        }

    @classmethod
    def from_dict(cls, d: Any, source: str = "bundle") -> "Bundle":
        if isinstance(d, dict) and "format" not in d and {"cols", "data"} <= set(d):
            raise BundleError(f"{source}: a FluCoMa DataSet/LabelSet (like dataset.json), not a Timbrel "
                              f"model bundle; make a model with `timbrel train FOLDER --out MODEL{SUFFIX}`")
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise BundleError(f"{source}: not a Timbrel model bundle (no \"format\": \"{FORMAT}\")")
        version = d.get("version")
        if version != VERSION:
            raise BundleError(f"{source}: bundle format version {version!r} is not supported "
                              f"(this Timbrel reads version {VERSION}); retrain or upgrade Timbrel")
        try:
            spec = FeatureSpec.from_dict(d["spec"])
            labels = _str_list(d["labels"], "labels")
            scaler = None
            if d.get("scaler") is not None:
                scaler = _SCALERS[_section(d, "scaler")["type"]].from_dict(d["scaler"]["data"])
            section = _section(d, "model")
            options = {k: section[k] for k in _KNN_OPTIONS if k in section}  # FluCoMa's dump lacks them
            model = _model_class(section["type"]).from_dict(section["data"], **options)
            level = d.get("level", "frame")
            columns = _str_list(d["columns"], "columns") if d.get("columns") else None  # [] = unrecorded
            training = d.get("training") or {}
            if not isinstance(training, dict):
                raise ValueError(f"'training' must be an object, got {type(training).__name__}")
            temperature, novelty = _calibration(d.get("calibration"))
        except KeyError as exc:
            raise BundleError(f"{source}: damaged bundle (missing or unknown {exc})") from exc
        except (ValueError, TypeError, AttributeError) as exc:
            raise BundleError(f"{source}: damaged bundle ({' '.join(str(exc).split())})") from exc
        if level not in ("frame", "clip"):
            raise BundleError(f"{source}: damaged bundle (unknown level {level!r})")
        expected = input_columns(spec, level)
        columns = expected if columns is None else columns
        problem = _inconsistency(expected, columns, scaler, model, labels)
        if not problem and novelty is not None and novelty.n_inputs != len(expected):
            problem = f"the unknown detector expects {novelty.n_inputs} inputs but the feature spec gives {len(expected)}"
        if problem:
            raise BundleError(f"{source}: damaged bundle ({problem}); retrain the model")
        return cls(spec, scaler, model, labels, level, columns, dict(training), temperature, novelty)

    def save(self, path: str | Path) -> Path:
        """Write the bundle atomically (temp file + rename); returns the path written."""
        path = Path(path)
        d = self.to_dict()            # fails before any file exists if the model cannot be stored
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            return save_json(path, d)
        except OSError as exc:   # name the bundle, not save_json's temporary file
            raise BundleError(f"{path}: cannot write the model ({exc.strerror or exc})") from None

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        """Read a bundle; BundleError (one line) for missing, corrupt, foreign or unknown-version files."""
        path = Path(path)
        swapped = "; the model comes first: timbrel predict MODEL FILE..." if is_audio_file(path) else ""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BundleError(f"{path}: no such model file") from None
        except IsADirectoryError:
            raise BundleError(f"{path}: is a folder, not a model file ({SUFFIX})") from None
        except UnicodeDecodeError:
            raise BundleError(f"{path}: not a Timbrel model bundle (a binary file{swapped})") from None
        except OSError as exc:
            raise BundleError(f"{path}: cannot read the model ({exc.strerror or exc.__class__.__name__})") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BundleError(f"{path}: not a Timbrel model bundle (corrupt JSON at line {exc.lineno}"
                              f"{swapped})") from None
        except RecursionError:   # e.g. [[[[...]]]] nested beyond Python's limit
            raise BundleError(f"{path}: not a Timbrel model bundle (JSON nested too deeply)") from None
        except ValueError as exc:  # e.g. an integer longer than Python's int-string limit
            raise BundleError(f"{path}: not a Timbrel model bundle ({' '.join(str(exc).split())})") from None
        return cls.from_dict(d, str(path))


def _calibration(c: Any) -> tuple[float, Any]:
    """(temperature, NoveltyDetector or None) from the optional "calibration" section."""
    if c is None:                    # bundles written before calibration existed
        return 1.0, None
    if not isinstance(c, dict):
        raise ValueError(f"'calibration' must be an object, got {type(c).__name__}")
    t = c.get("temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.0 < t < math.inf:
        raise ValueError(f"calibration temperature must be a number > 0, got {t!r}")
    from model.novelty import NoveltyDetector
    novelty = None if c.get("novelty") is None else NoveltyDetector.from_dict(c["novelty"])
    return float(t), novelty


def _section(d: dict, key: str) -> dict:
    v = d[key]
    if not isinstance(v, dict) or "type" not in v or "data" not in v:
        raise ValueError(f"'{key}' must be an object with \"type\" and \"data\"")
    return v


def _str_list(v: Any, what: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"'{what}' must be a list of strings")
    return list(v)


def _inconsistency(expected: list[str], columns: list[str], scaler: Any, model: Any,
                   labels: list[str]) -> str | None:
    """Why the parts of a bundle cannot work together, or None. Each part is valid alone, so a
    mismatch would otherwise surface only as a confusing error (or wrong answers) at predict time."""
    width = len(expected)
    if columns != expected:
        return f"columns {columns[:4]}... do not match the feature spec's {expected[:4]}..."
    if scaler is not None and scaler.cols != width:
        return f"the scaler expects {scaler.cols} inputs but the feature spec gives {width}"
    if model.n_inputs is None:
        return "the model is not trained"
    if model.n_inputs != width:
        return f"the model expects {model.n_inputs} inputs but the feature spec gives {width}"
    if len(labels) < 2 or len(set(labels)) != len(labels):
        return f"needs at least two distinct class labels, got {labels}"
    if set(labels) != set(model.classes):
        return f"labels {labels} differ from the model's classes {list(model.classes)}"
    return None


def training_record(settings: dict, errors: list[float], stopped_by: str) -> dict:
    """The ``training`` section of a bundle: settings and per-fit errors (NaN stored as null)."""
    return {"settings": settings, "stopped_by": stopped_by,
            "errors": [None if (e is None or math.isnan(e)) else float(e) for e in errors]}
