"""The bundled trombone/oboe demo as a library call: analyse assets/train, train, evaluate on
assets/test. `timbrel demo` prints it; the GUI can run the same thing with its own callbacks.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:   # the heavy imports (numba, librosa) wait until the demo runs: `timbrel --help` stays fast
    from app.analysis import Analysis
    from app.bundle import Bundle
    from app.training import Evaluation, TrainResult, TrainSettings

ASSETS = Path(__file__).resolve().parents[1] / "assets"

# Chosen by measuring leave-one-source-out accuracy (benchmarks/bench_generalise.py, README): pitch
# and confidence alone confuse the instruments where their ranges overlap; the envelope's shape
# separates them. `mfcc_shape` (without mfcc0, the level) is level-invariant but measured lower
# leave-one-source-out and flickered on the live phrase test, so it stays an option for now;
# `harmonics` and context frames measured no better either.
DEMO_FEATURES: tuple[str, ...] = ("pitch", "confidence", "mfcc")
DEMO_CONTEXT = 0            # frames of context (0: each frame alone; 11 is about 0.25 s)
DEMO_SEED = 0


def demo_spec(**overrides):
    """The demo's FeatureSpec (also `timbrel train`'s default features)."""
    from dsp.features import FeatureSpec
    return FeatureSpec(**{"features": DEMO_FEATURES, "context_frames": DEMO_CONTEXT, **overrides})


def demo_settings(**overrides) -> "TrainSettings":
    """TrainSettings' defaults (the same as `timbrel train`) with the demo's fixed seed."""
    from app.training import TrainSettings
    return TrainSettings(**{"seed": DEMO_SEED, **overrides})


StageProgress = Callable[[str, int, int, Path], None]   # (stage "train"|"test", done, total, path)


@dataclass
class DemoResult:
    bundle: Bundle
    training: TrainResult
    evaluation: Evaluation
    train_set: Analysis
    test_set: Analysis
    seconds: float

    def path_of(self, clip_id: str) -> Path | None:
        return next((c.path for c in self.test_set.clips if c.clip_id == clip_id), None)


def run_demo(spec=None, settings: TrainSettings | None = None, *, assets: Path = ASSETS,
             on_progress: StageProgress | None = None, on_fit: Callable[[Any], Any] | None = None,
             on_epoch: Callable[[int, float, float | None], Any] | None = None,
             on_analysed: Callable[[str, "Analysis"], Any] | None = None,
             stop: threading.Event | None = None, augment: Any = None) -> DemoResult:
    """Analyse ``assets/train``, train, and measure per-clip accuracy on ``assets/test``.

    ``on_progress(stage, done, total, path)`` per analysed file, ``on_fit(FitReport)`` per fit,
    ``on_epoch(epoch, train_error, validation_error)`` per epoch, ``on_analysed(stage, analysis)``
    after each folder; ``stop`` ends early. ``augment``: dsp.augment.AugmentSettings (None: no
    augmentation, the default for now).
    """
    from app.analysis import analyse_paths
    from app.generalise import train_bundle_robust
    from app.training import evaluate
    from dsp.features import FeatureSpec
    t0 = time.perf_counter()
    spec = spec or demo_spec()
    settings = settings or demo_settings()
    for part in ("train", "test"):
        if not (assets / part).is_dir():
            raise FileNotFoundError(f"{assets / part}: demo sounds not found (run scripts/make-assets)")

    def stage(name: str):
        return None if on_progress is None else (lambda d, t, p: on_progress(name, d, t, p))

    train_set = analyse_paths([assets / "train"], spec, progress=stage("train"), stop=stop)
    if on_analysed is not None:
        on_analysed("train", train_set)
    from dsp.augment import AugmentSettings
    bundle, result = train_bundle_robust(train_set, settings, augment=augment or AugmentSettings(copies=0), on_epoch=on_epoch,
                                         on_fit=on_fit, stop=stop)
    test_set = analyse_paths([assets / "test"], spec, progress=stage("test"), stop=stop)
    if on_analysed is not None:
        on_analysed("test", test_set)
    if not test_set.clips and (stop is None or not stop.is_set()):
        raise ValueError(f"{assets / 'test'}: no audio clip to test on; put labelled clips there "
                         f"(test/<label>/*.wav), as in train/")
    evaluation = evaluate(bundle, test_set.dataset, test_set.labels, test_set.clip_of)
    return DemoResult(bundle, result, evaluation, train_set, test_set, time.perf_counter() - t0)
