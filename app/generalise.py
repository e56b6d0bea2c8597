"""Training that carries over to new recordings: augmentation, held-out calibration, "unknown".

``train_bundle_robust`` is the one training pipeline behind `timbrel train`, `timbrel evaluate`, the
demo and the GUI:

1. **Augment** (``dsp.augment``): each training clip is decoded again and a few copies are made as
   other microphones and rooms would record it (gain, EQ tilt, band limits, noise, reverberation,
   detuning); the copies go through the same feature extractor, and their points keep the clip's id
   (``<clip>-a<copy>f<frame>``), so every split keeps a clip and its copies on one side. A copy
   keeps the frames where the clip itself was usable (not the noise after the note).
2. **Calibrate** on held-out clips: whole groups (source folders) or clips, a quarter per class, are
   held out from a probe model trained with the same settings. One temperature is fitted to the
   probe's held-out probabilities (minimum log loss), so "90 %" means right about nine times in ten
   on recordings the model did not train on; and the unknown detector's threshold is set from the
   held-out clips' distances to the probe's training clips (both as recorded, not augmented).
3. **Train** the final model on every clip and store the temperature and the detector in the bundle.

Calibration needs at least two clips per class; with fewer the bundle says it is uncalibrated
(temperature 1, no unknown answer) rather than invent a figure.
"""
from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from dsp.augment import AugmentSettings, augmented_copies

if TYPE_CHECKING:
    from app.analysis import Analysis
    from app.bundle import Bundle
    from app.training import TrainResult, TrainSettings
    from model.dataset import DataSet, LabelSet

HELD_OUT_FRACTION = 0.25     # of each class's groups, for calibration
NOVELTY_QUANTILE = 0.99      # held-out frames farther than this quantile count as unknown
NOVELTY_MARGIN = 1.5         # ... times this margin: new recordings spread wider than held-out clips (bench_generalise)


@dataclass(frozen=True)
class Calibration:
    """What the held-out probe measured (stored in the bundle's training record)."""
    temperature: float
    novelty_threshold: float
    held_out_clips: int
    held_out_accuracy: float         # per clip, of the probe model (temperature does not change it)


def clip_group(analysis: "Analysis", clip: Any) -> str:
    """The group a clip belongs to (its source folder), or the clip itself."""
    return getattr(clip, "group", None) or clip.clip_id


def held_out_clips(analysis: "Analysis", fraction: float = HELD_OUT_FRACTION, seed: int = 0) -> set[str]:
    """Clip ids to hold out: whole groups, about ``fraction`` of each class's groups (at least one
    group per class, never all of them). Empty when some class has a single group."""
    by_class: dict[str, dict[str, list[str]]] = {}
    for clip in analysis.clips:
        by_class.setdefault(clip.label, {}).setdefault(clip_group(analysis, clip), []).append(clip.clip_id)
    if len(by_class) < 2 or any(len(groups) < 2 for groups in by_class.values()):
        return set()
    held: set[str] = set()
    for label, groups in sorted(by_class.items()):
        names = sorted(groups)
        rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
        rng.shuffle(names)
        n = min(max(1, round(fraction * len(names))), len(names) - 1)
        for g in names[:n]:
            held.update(groups[g])
    return held


def subset(dataset: "DataSet", labels: "LabelSet", clip_of: Callable[[str], str],
           clips: set[str], keep: bool) -> tuple["DataSet", "LabelSet"]:
    """The points whose clip is (``keep``) or is not (``not keep``) in ``clips``."""
    from model.dataset import DataSet, LabelSet
    ids, matrix = dataset.to_numpy()
    rows = [i for i, pid in enumerate(ids) if (clip_of(pid) in clips) == keep]
    out = DataSet.from_numpy([ids[i] for i in rows], matrix[rows] if rows else np.zeros((0, dataset.cols)))
    lab = LabelSet()
    for i in rows:
        lab.add_label(ids[i], labels.get_label(ids[i]))
    return out, lab


def augment_analysis(analysis: "Analysis", settings: AugmentSettings,
                     stop: Any = None) -> tuple["DataSet", "LabelSet", int]:
    """The analysis's points plus those of ``settings.copies`` augmented copies of each clip.

    Returns
    -------
    (DataSet, LabelSet, int)
        New containers (the analysis is not changed) and the number of clips whose audio could not be
        read again (e.g. an analysis folder whose clips have moved): those keep their original points.
    """
    from dsp.audio import load
    from dsp.features import FeatureExtractor, frame_rows
    dataset, labels = analysis.dataset.copy(), analysis.labels.copy()
    if settings.copies == 0 or analysis.level != "frame":
        return dataset, labels, 0
    extractor = FeatureExtractor(analysis.spec)
    # A copy keeps only the frames where the clip itself was usable: added noise and a reverberation
    # tail outlast the note, and frames of noise alone must not be learnt as the instrument.
    usable: dict[str, set[str]] = {}
    for pid in analysis.dataset.ids:
        clip_id, frame = pid.rsplit("-", 1)
        usable.setdefault(clip_id, set()).add(frame)
    missing = 0
    for clip in analysis.clips:
        if stop is not None and stop.is_set():
            break
        try:
            y = load(clip.path, analysis.spec.sr)
        except (OSError, ValueError):
            missing += 1
            continue
        for i, copy in enumerate(augmented_copies(y, analysis.spec.sr, clip.clip_id, settings), start=1):
            ids, rows = frame_rows(extractor.analyse(copy), clip.clip_id)
            keep = usable.get(clip.clip_id, set())
            for pid, row in zip(ids, rows):
                frame = pid.rsplit("-", 1)[1]
                if frame not in keep:
                    continue
                point = f"{clip.clip_id}-a{i}f{frame}"     # same clip as the original for every split
                dataset.add_point(point, row)
                labels.add_label(point, clip.label)
    return dataset, labels, missing


def fit_temperature(probabilities: np.ndarray, truth: np.ndarray) -> float:
    """The temperature T minimising the log loss of ``softmax(log p / T)`` on held-out points.

    Parameters
    ----------
    probabilities : np.ndarray
        (n, classes) model probabilities.
    truth : np.ndarray
        (n,) index of each point's true class.

    Returns
    -------
    float
        T in [0.25, 20] (T > 1 softens an overconfident model).
    """
    logp = np.log(np.clip(np.asarray(probabilities, dtype=np.float64), 1e-300, 1.0))
    truth = np.asarray(truth, dtype=np.int64)
    if logp.shape[0] == 0:
        return 1.0

    def loss(t: float) -> float:
        z = logp / t
        z -= z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(truth)), truth]))

    grid = np.exp(np.linspace(math.log(0.25), math.log(20.0), 121))
    best = min(grid, key=loss)
    return float(best)


def soften(probabilities: dict[str, float], temperature: float) -> dict[str, float]:
    """Probabilities with temperature ``temperature`` applied (``p^(1/T)``, renormalised)."""
    if temperature == 1.0 or not probabilities:
        return probabilities
    logs = {c: math.log(max(p, 1e-300)) / temperature for c, p in probabilities.items()}
    top = max(logs.values())
    w = {c: math.exp(v - top) for c, v in logs.items()}
    total = sum(w.values())
    return {c: v / total for c, v in w.items()}


def train_bundle_robust(analysis: "Analysis", settings: "TrainSettings", *,
                        augment: AugmentSettings = AugmentSettings(copies=0),
                        calibrate: bool = True,
                        on_fit: Callable[[Any], Any] | None = None,
                        on_epoch: Callable[[int, float, float | None], Any] | None = None,
                        on_stage: Callable[[str], Any] | None = None,
                        stop: Any = None) -> tuple["Bundle", "TrainResult"]:
    """Augment, calibrate on held-out clips, train on everything; see the module docstring.

    Parameters
    ----------
    analysis : Analysis
        The training clips (frame or clip level).
    settings : TrainSettings
        Model and training settings (the probe and the final model use the same).
    augment : AugmentSettings
        ``AugmentSettings(copies=0)`` trains on the clips as they are.
    calibrate : bool
        Fit a temperature and the unknown threshold on held-out clips (costs one more training).
    on_fit, on_epoch : callable, optional
        Progress of the final model's training (as ``app.training.Trainer``).
    on_stage : callable, optional
        Called with "augmenting", "calibrating", "training".
    stop : threading.Event, optional
        Ends augmentation and training early.

    Returns
    -------
    (Bundle, TrainResult)
    """
    from app.bundle import Bundle, training_record
    from app.training import Trainer
    from model.novelty import NoveltyDetector

    stage = on_stage or (lambda name: None)
    aug = augment if settings.seed is None else AugmentSettings(augment.copies, augment.transforms, settings.seed)
    stage("augmenting")
    dataset, labels, missing = augment_analysis(analysis, aug, stop)
    clip_of = analysis.clip_of

    calibration: Calibration | None = None
    if calibrate and analysis.level == "frame":
        held = held_out_clips(analysis, seed=settings.seed or 0)
        if held:
            stage("calibrating")
            calibration = _calibrate(analysis, dataset, labels, clip_of, held, settings, stop)

    stage("training")
    trainer = Trainer(dataset, labels, settings, on_epoch=on_epoch, on_fit=on_fit)
    result = trainer.run(stop)        # a stop set before the run ends it before its first fit
    novelty = None
    if calibration is not None:
        novelty = NoveltyDetector().fit(_spread(_original_scaled(analysis.dataset, result.scaler),
                                                settings.seed or 0))
        novelty.threshold = calibration.novelty_threshold
    record = training_record(settings.to_dict(), [r.error for r in result.reports], result.stopped_by)
    record.update(points=len(dataset), clips=len(analysis.clips),
                  augmentation=aug.to_dict() | {"clips_not_reloaded": missing})
    if calibration is not None:
        record["calibration"] = {"temperature": calibration.temperature,
                                 "novelty_threshold": calibration.novelty_threshold,
                                 "held_out_clips": calibration.held_out_clips,
                                 "held_out_accuracy": calibration.held_out_accuracy}
    bundle = Bundle(analysis.spec, result.scaler, result.model, analysis.classes(), analysis.level,
                    analysis.columns, record,
                    temperature=calibration.temperature if calibration else 1.0, novelty=novelty)
    return bundle, result


def _original_scaled(dataset: "DataSet", scaler: Any) -> np.ndarray:
    """The scaled rows of the points that are not augmented copies."""
    ids, rows = dataset.to_numpy()
    keep = [i for i, pid in enumerate(ids) if not _is_augmented(pid)]
    rows = rows[keep]
    return np.array([scaler.transform_point(r) for r in rows]) if scaler is not None else rows


def _is_augmented(point_id: str) -> bool:
    return point_id.rsplit("-", 1)[1].startswith("a")


def _spread(points: np.ndarray, seed: int, limit: int = 2000) -> np.ndarray:
    """At most ``limit`` points, drawn evenly at random (frames of one clip are near-duplicates,
    so a random sample covers the clips better than the first ``limit``)."""
    if points.shape[0] <= limit:
        return points
    idx = np.sort(np.random.default_rng(seed).choice(points.shape[0], limit, replace=False))
    return points[idx]


def _calibrate(analysis, dataset, labels, clip_of, held: set[str], settings, stop) -> Calibration:
    from app.training import Trainer
    from model.novelty import NoveltyDetector
    train_ds, train_lab = subset(dataset, labels, clip_of, held, keep=False)
    test_ds, test_lab = subset(dataset, labels, clip_of, held, keep=True)
    probe = Trainer(train_ds, train_lab, settings).run(stop)
    classes = list(probe.model.classes) if hasattr(probe.model, "classes") else analysis.classes()
    ids, raw = test_ds.to_numpy()
    scaled = probe.scaler.transform(test_ds).to_numpy()[1] if probe.scaler is not None else raw
    probs = np.array([[probe.model.predict_proba_point(row).get(c, 0.0) for c in classes] for row in scaled])
    truth = np.array([classes.index(test_lab.get_label(pid)) for pid in ids])
    temperature = fit_temperature(probs, truth) if settings.algorithm == "mlp" else 1.0
    # per-clip accuracy of the probe on its held-out clips (mean probability over each clip's points)
    clip_sum: dict[str, np.ndarray] = {}
    clip_truth: dict[str, int] = {}
    for pid, p, t in zip(ids, probs, truth):
        c = clip_of(pid)
        clip_sum[c] = clip_sum.get(c, 0.0) + p
        clip_truth[c] = int(t)
    correct = sum(int(np.argmax(s) == clip_truth[c]) for c, s in clip_sum.items())
    det = NoveltyDetector().fit(_spread(_original_scaled(train_ds, probe.scaler), settings.seed or 0))
    # References and threshold come from the clips as recorded: augmented copies (with noise and
    # reverberation added) would teach the detector that nearly anything is an instrument.
    original = np.array([not _is_augmented(pid) for pid in ids], dtype=bool)
    threshold = det.set_threshold(det.score(scaled[original] if original.any() else scaled),
                                  NOVELTY_QUANTILE, NOVELTY_MARGIN)
    return Calibration(temperature, threshold, len(clip_sum), correct / len(clip_sum) if clip_sum else math.nan)
