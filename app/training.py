"""Repeated fits with a stop button, as in FluCoMa's trombone/oboe example: fit, print the error, fit again.

Each ``fit`` continues from the current weights (FluCoMa semantics), so a "fit" here is one round of
up to ``max_iter`` epochs. Training ends after ``fits`` rounds, or — with ``until_plateau`` — once the
error stops improving:

    plateau: after at least ``plateau_fits + 1`` fits, the best error of the last ``plateau_fits``
    fits is less than ``plateau_tolerance`` (relative, default 1 %) below the best error before
    them; or the error is ~0. ``max_fits`` caps the run either way.

The scaler is fitted once on the whole training set (its statistics do not change between fits).
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Callable, Protocol

import numpy as np

if TYPE_CHECKING:   # model/ is imported when training starts: `timbrel --help` needs only the settings
    from model.dataset import DataSet, LabelSet

ALGORITHMS = ("mlp", "knn")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
SCALERS = ("standardize", "normalize", "robust", "none")   # model.scalers classes, or no scaling

EpochCallback = Callable[[int, float, float | None], Any]   # (epoch, train_error, validation_error)
FitCallback = Callable[["FitReport"], Any]


@dataclass
class TrainSettings:
    """Everything that decides how a model is built and trained (serialised into the bundle)."""
    algorithm: str = "mlp"
    hidden: tuple[int, ...] = (8, 8)
    activation: str = "relu"
    learn_rate: float = 0.01
    momentum: float = 0.5               # FluCoMa's MLPClassifier default
    max_iter: int = 50                  # epochs per fit
    batch_size: int = 50
    validation: float = 0.2
    seed: int | None = None
    scaler: str = "standardize"
    num_neighbours: int = 3             # knn only
    fits: int = 10
    until_plateau: bool = False
    plateau_fits: int = 5
    plateau_tolerance: float = 0.01
    max_fits: int = 200

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        checks = [
            (self.algorithm in ALGORITHMS, f"algorithm must be one of {', '.join(ALGORITHMS)}"),
            (self.activation in ACTIVATIONS, f"activation must be one of {', '.join(ACTIVATIONS)}"),
            (self.scaler in SCALERS, f"scaler must be one of {', '.join(SCALERS)}"),
            (all(h >= 1 for h in self.hidden), "hidden layer sizes must be >= 1"),
            (0 < self.learn_rate < math.inf, "learn rate must be a number > 0"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (self.max_iter >= 1, "max iter must be >= 1"),
            (self.batch_size >= 1, "batch size must be >= 1"),
            (0 <= self.validation < 1, "validation must be in [0, 1)"),
            (self.num_neighbours >= 1, "num neighbours must be >= 1"),
            (self.fits >= 1, "fits must be >= 1"),
            (self.plateau_fits >= 1, "plateau fits must be >= 1"),
            (0 <= self.plateau_tolerance < math.inf, "plateau tolerance must be a number >= 0"),
            (self.max_fits >= 1, "max fits must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainSettings":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def make_scaler(settings: TrainSettings):
    """A fresh, unfitted scaler (or None for 'none')."""
    from model.scalers import Normalize, RobustScale, Standardize
    cls = {"standardize": Standardize, "normalize": Normalize, "robust": RobustScale}.get(settings.scaler)
    return cls() if cls is not None else None


def make_model(settings: TrainSettings):
    """A fresh, untrained classifier built from the settings."""
    if settings.algorithm == "knn":
        from model.knn import KNNClassifier
        return KNNClassifier(num_neighbours=settings.num_neighbours, weight=True)
    from model.mlp import MLPClassifier
    return MLPClassifier(hidden_layers=list(settings.hidden), activation=settings.activation,
                         max_iter=settings.max_iter, learn_rate=settings.learn_rate,
                         momentum=settings.momentum, batch_size=settings.batch_size,
                         validation=settings.validation, seed=settings.seed)


@dataclass(frozen=True)
class FitReport:
    fit: int                          # 1-based
    error: float                      # training error the model's fit returned (NaN for knn)
    validation_error: float | None    # last held-out error seen during the fit
    best_error: float
    epochs: int                       # epochs run in this fit
    seconds: float


@dataclass
class TrainResult:
    scaler: Any
    model: Any
    reports: list[FitReport] = field(default_factory=list)
    stopped_by: str = "fits"          # "fits", "plateau", "max_fits", "stop", "knn"

    @property
    def final_error(self) -> float:
        return self.reports[-1].error if self.reports else math.nan


def plateaued(errors: list[float], fits: int, tolerance: float) -> bool:
    """True when the last ``fits`` errors improve the best earlier error by less than ``tolerance``."""
    if errors and errors[-1] <= 1e-12:
        return True
    if len(errors) <= fits:
        return False
    before, recent = min(errors[:-fits]), min(errors[-fits:])
    return before - recent < tolerance * before


class Trainer:
    """Fits a scaler and a classifier on a DataSet/LabelSet with repeated fits.

    ``on_epoch(epoch, train_error, validation_error)`` is forwarded from the model after every
    epoch, with ``epoch`` counted across fits so a loss plot's x axis keeps increasing;
    ``on_fit(report)`` after every fit. Both run on the training thread. ``stop()`` may be called
    from any thread: the model stops at its next batch and ``run`` returns what it has.
    """

    def __init__(self, dataset: "DataSet", labels: "LabelSet", settings: TrainSettings | None = None, *,
                 on_epoch: EpochCallback | None = None, on_fit: FitCallback | None = None) -> None:
        self.dataset = dataset
        self.labels = labels
        self.settings = settings or TrainSettings()
        self.on_epoch = on_epoch
        self.on_fit = on_fit
        self.scaler = make_scaler(self.settings)
        self.model = make_model(self.settings)
        self._stop = threading.Event()
        self._run_stop: threading.Event | None = None
        self._epoch = 0
        self._epochs_this_fit = 0
        self._last_validation: float | None = None
        if hasattr(self.model, "progress"):
            self.model.progress = self._forward_epoch

    def stop(self) -> None:
        self._stop.set()
        if hasattr(self.model, "stop"):
            self.model.stop()

    @property
    def stopped(self) -> bool:
        return self._stopping()

    def _stopping(self) -> bool:
        run_stop = self._run_stop
        return self._stop.is_set() or (run_stop is not None and run_stop.is_set())

    def _forward_epoch(self, epoch: int, train_error: float, validation_error: float | None):
        self._epoch += 1
        self._epochs_this_fit += 1
        self._last_validation = validation_error
        if self.on_epoch is not None:
            self.on_epoch(self._epoch, train_error, validation_error)
        return not self._stopping()

    def run(self, stop: threading.Event | None = None) -> TrainResult:
        """Fit until ``fits`` / plateau / ``max_fits`` / ``stop()``; raises ValueError on bad data.
        Calling it again after a stop continues training the same network: a ``stop()`` made before
        this call is forgotten. ``stop`` is the caller's own event for this one run, honoured like
        ``stop()`` but never forgotten: set before ``run`` even begins (Stop pressed while a worker
        thread is still starting up), it ends the run before its first fit."""
        s = self.settings
        self._stop.clear()  # stop() ends one run; the next run continues the same network
        self._run_stop = stop
        classes = set(self.labels.classes())
        if len(classes) < 2:
            raise ValueError(f"training needs at least two classes, found {len(classes)}"
                             + (f" ({', '.join(sorted(classes))})" if classes else "")
                             + ": put each class's clips in a folder named after it")
        if len(self.dataset) == 0:
            raise ValueError("no training points: every clip was silent or unreadable; add audio and analyse again")
        inputs = self.dataset
        if self.scaler is not None:
            self.scaler.fit(inputs)
            inputs = self.scaler.transform(inputs)
        result = TrainResult(self.scaler, self.model)
        if s.algorithm == "knn":
            t0 = time.perf_counter()
            self.model.fit(inputs, self.labels)
            result.reports.append(FitReport(1, math.nan, None, math.nan, 0, time.perf_counter() - t0))
            result.stopped_by = "knn"
            if self.on_fit is not None:
                self.on_fit(result.reports[-1])
            return result
        limit = s.max_fits if s.until_plateau else s.fits
        errors: list[float] = []
        for n in range(1, limit + 1):
            if self._stopping():
                result.stopped_by = "stop"
                break
            self._epochs_this_fit, self._last_validation = 0, None
            t0 = time.perf_counter()
            error = float(self.model.fit(inputs, self.labels))
            errors.append(error)
            report = FitReport(n, error, self._last_validation, min(errors), self._epochs_this_fit,
                               time.perf_counter() - t0)
            result.reports.append(report)
            if self.on_fit is not None:
                self.on_fit(report)
            if self._stopping():
                result.stopped_by = "stop"
                break
            if s.until_plateau and plateaued(errors, s.plateau_fits, s.plateau_tolerance):
                result.stopped_by = "plateau"
                break
        else:
            result.stopped_by = "max_fits" if s.until_plateau else "fits"
        return result


class ProbabilisticClassifier(Protocol):
    def predict_proba_point(self, vec: np.ndarray) -> dict[str, float]: ...


@dataclass
class ClipResult:
    clip_id: str
    truth: str
    predicted: str
    confidence: float                 # mean probability of the winning class over the clip's points
    probabilities: dict[str, float]
    points: int


@dataclass
class Evaluation:
    """Per-clip accuracy and confusion matrix (rows: true class, columns: predicted class)."""
    classes: list[str]
    confusion: np.ndarray
    clips: list[ClipResult]

    @property
    def accuracy(self) -> float:
        total = int(self.confusion.sum())
        return float(np.trace(self.confusion)) / total if total else math.nan

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "classes": self.classes,
                "confusion": self.confusion.tolist(),
                "clips": [asdict(c) for c in self.clips]}


def evaluate(classifier: ProbabilisticClassifier, dataset: "DataSet", labels: "LabelSet",
             clip_of: Callable[[str], str] = lambda pid: pid.rsplit("-", 1)[0]) -> Evaluation:
    """Classify each clip by the mean probability over its points and compare with its label.

    ``classifier.predict_proba_point`` takes the DataSet's raw vectors (a Bundle applies its scaler).
    ``clip_of`` maps a point id to its clip (default: frame ids ``<clip>-<frame>``).
    """
    ids, matrix = dataset.to_numpy()
    sums: dict[str, Counter] = defaultdict(Counter)
    counts: Counter = Counter()
    truth: dict[str, str] = {}
    for pid, row in zip(ids, matrix):
        clip = clip_of(pid)
        label = labels.get_label(pid)
        if truth.setdefault(clip, label) != label:
            raise ValueError(f"clip {clip!r} has points labelled both {truth[clip]!r} and {label!r}")
        sums[clip].update(classifier.predict_proba_point(row))
        counts[clip] += 1
    classes = list(dict.fromkeys([*labels.classes(), *(k for c in sums.values() for k in c)]))
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), dtype=np.int64)
    results: list[ClipResult] = []
    for clip, total in sums.items():
        probs = {c: total.get(c, 0.0) / counts[clip] for c in classes}
        winner = max(probs, key=lambda c: probs[c])   # ties: first class in order
        confusion[index[truth[clip]], index[winner]] += 1
        results.append(ClipResult(clip, truth[clip], winner, probs[winner], probs, counts[clip]))
    return Evaluation(classes, confusion, results)
