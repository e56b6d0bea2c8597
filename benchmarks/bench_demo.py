"""Time the demo's stages (analyse train, train, analyse test + evaluate) and print its accuracy
for several feature sets. Run: .venv/bin/python benchmarks/bench_demo.py  (not a test).

The first run of a fresh checkout also compiles the numba kernels (cached afterwards).
"""
from __future__ import annotations

import time

from app.analysis import analyse_paths
from app.bundle import Bundle
from app.demo import ASSETS, demo_settings
from app.training import Trainer, evaluate
from dsp.features import FeatureSpec

FEATURE_SETS = [("pitch", "confidence"), ("pitch", "confidence", "mfcc"),
                ("pitch", "confidence", "centroid", "flatness")]
SEEDS = (0, 1, 2, 3, 4)


def main() -> None:
    for feats in FEATURE_SETS:    # warm-up: load the cached kernels outside the timings
        analyse_paths([next((ASSETS / "train").rglob("*.flac"))], FeatureSpec(features=feats))
    print(f"{'features':<36} {'analyse s':>9} {'train s':>8} {'per-clip accuracy, seeds ' + str(SEEDS):<44}")
    for feats in FEATURE_SETS:
        spec = FeatureSpec(features=feats)
        t0 = time.perf_counter()
        train = analyse_paths([ASSETS / "train"], spec)
        test = analyse_paths([ASSETS / "test"], spec)
        t_analyse = time.perf_counter() - t0
        accs, t_train = [], 0.0
        for seed in SEEDS:
            settings = demo_settings(seed=seed)
            t1 = time.perf_counter()
            result = Trainer(train.dataset, train.labels, settings).run()
            t_train += time.perf_counter() - t1
            bundle = Bundle(spec, result.scaler, result.model, train.classes())
            accs.append(evaluate(bundle, test.dataset, test.labels, test.clip_of).accuracy)
        print(f"{','.join(feats):<36} {t_analyse:9.2f} {t_train / len(SEEDS):8.2f} "
              f"{' '.join(f'{a:.1%}' for a in accs)}")


if __name__ == "__main__":
    main()
