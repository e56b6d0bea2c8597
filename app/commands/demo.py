"""`timbrel demo`: analyse the bundled trombone/oboe notes, train, and report test accuracy."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import add_feature_options, check_output, class_counts, progress_bar, report_failures, spec_from_args
from .train import add_training_options, print_fit, settings_from_args


def register(sub: argparse._SubParsersAction) -> None:
    from app.demo import DEMO_FEATURES, DEMO_SEED, ASSETS
    p = sub.add_parser(
        "demo", help="train on the bundled trombone/oboe notes and test on unseen notes",
        description="Analyse assets/train, train a classifier (printing the error after each fit), "
                    "then classify every file in assets/test and print the per-clip accuracy. "
                    "The same as running `timbrel` with no arguments (without a display).")
    p.add_argument("--assets", type=Path, default=ASSETS, metavar="DIR",
                   help="folder with train/ and test/ subfolders of labelled audio (default: bundled)")
    p.add_argument("--out", type=Path, default=None, metavar="MODEL",
                   help="also write the trained bundle here (e.g. demo.timbrel.json)")
    add_feature_options(p, default=DEMO_FEATURES)
    add_training_options(p, seed=DEMO_SEED)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.demo import run_demo
    spec = spec_from_args(args)
    settings = settings_from_args(args)
    if args.out is not None:
        check_output(args.out, "file")
    print(f"Timbrel demo: features {', '.join(spec.features)}; {settings.algorithm} "
          f"{' '.join(map(str, settings.hidden)) if settings.algorithm == 'mlp' else ''}, seed {settings.seed}",
          flush=True)
    total = None if settings.until_plateau else settings.fits
    with progress_bar("analysing") as progress:
        result = run_demo(spec, settings, assets=args.assets,
                          on_progress=lambda stage, d, t, p: progress(d, t, p),
                          on_fit=lambda r: print_fit(r, total),
                          on_analysed=lambda stage, a: _print_analysed(stage, a, progress))
    report_failures(result.train_set.failures + result.test_set.failures)
    ev = result.evaluation
    print(f"\nassets/test: {len(ev.clips)} clips never seen in training")
    width = max((len(str(_short(result.path_of(c.clip_id), args.assets))) for c in ev.clips), default=0)
    for c in ev.clips:
        mark = "ok   " if c.predicted == c.truth else "WRONG"
        print(f"  {mark} {str(_short(result.path_of(c.clip_id), args.assets)):<{width}}  "
              f"-> {c.predicted:<{max(map(len, ev.classes))}} {c.confidence:5.1%}")
    print("\nconfusion (rows: true, columns: predicted)")
    cw = max(map(len, ev.classes)) + 2
    print(" " * cw + "".join(f"{c:>{cw}}" for c in ev.classes))
    for i, c in enumerate(ev.classes):
        print(f"{c:<{cw}}" + "".join(f"{n:>{cw}d}" for n in ev.confusion[i]))
    by_source: dict[str, list[bool]] = {}
    for c in ev.clips:       # the folder above the label folder: the sample set (assets/LICENSE.md)
        path = result.path_of(c.clip_id)
        by_source.setdefault(path.parent.parent.name if path else "?", []).append(c.predicted == c.truth)
    if len(by_source) > 1:
        print("\n" + "; ".join(f"{src}: {sum(ok)}/{len(ok)}" for src, ok in sorted(by_source.items())))
    print(f"\nper-clip accuracy on assets/test: {ev.correct}/{len(ev.clips)} = {ev.accuracy:.1%}  "
          f"({result.seconds:.1f} s)")
    if args.out is not None:
        print(f"wrote {result.bundle.save(args.out)}")
    return 0


def _print_analysed(stage: str, analysis, progress) -> None:
    if stage == "train":
        print(f"assets/train: {len(analysis.clips)} clips ({class_counts(analysis)}), "
              f"{len(analysis.dataset)} frames x {analysis.dataset.cols} columns", flush=True)


def _short(path: Path | None, root: Path) -> Path | str:
    if path is None:
        return "?"
    try:
        return path.relative_to(root)
    except ValueError:
        return path
