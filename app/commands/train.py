"""`timbrel train PATH... --out MODEL`: analyse (or load an analysis), repeated fits, write a bundle."""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ._common import (CliError, add_feature_options, check_output, class_counts, nothing_analysed,
                      progress_bar, report_failures, spec_from_args)


def _defaults() -> dict:
    """argparse defaults = TrainSettings' defaults (one source of truth for CLI and GUI)."""
    from app.training import TrainSettings
    d = TrainSettings().to_dict()
    d["neighbours"] = d.pop("num_neighbours")
    return d


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a classifier from labelled audio folders and write a model bundle",
        description="Train a classifier and write one model bundle (*.timbrel.json). PATH is audio "
                    "files/folders (label = folder name) or folders written by `timbrel analyse`. "
                    "Prints the error after each fit (each fit continues from the last).")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="audio files/folders, or analysis folders from `timbrel analyse`")
    p.add_argument("--out", required=True, type=Path, metavar="MODEL",
                   help="bundle to write, e.g. model.timbrel.json")
    p.add_argument("--label", default=None, help="label every audio file with this (default: folder name)")
    p.add_argument("--level", choices=("frame", "clip"), default="frame",
                   help="learn from every frame (default; needed for `timbrel live`) or from per-clip "
                        "statistics (mean, std, min, max, median)")
    add_feature_options(p)
    add_training_options(p)
    add_augment_option(p)
    p.set_defaults(func=run)


def add_augment_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--augment", action=argparse.BooleanOptionalAction, default=False,
                   help="train on augmented copies of each clip too (gain, EQ, band limits, noise, "
                        "reverb, detuning; seeded) so the model carries over to other recordings "
                        "(default: off; it made the live phrase test worse, see README)")


def add_training_options(p: argparse.ArgumentParser, **overrides) -> None:
    d = {**_defaults(), **overrides}
    g = p.add_argument_group("training")
    g.add_argument("--algorithm", choices=("mlp", "knn"), default=d["algorithm"],
                   help=f"multi-layer perceptron or k-nearest neighbours (default {d['algorithm']})")
    g.add_argument("--hidden", type=int, nargs="+", default=d["hidden"], metavar="N",
                   help=f"hidden layer sizes (default {' '.join(map(str, d['hidden']))})")
    g.add_argument("--activation", choices=("relu", "sigmoid", "tanh", "identity"),
                   default=d["activation"], help=f"hidden activation (default {d['activation']})")
    g.add_argument("--max-iter", type=int, default=d["max_iter"], metavar="N",
                   help=f"epochs per fit (default {d['max_iter']})")
    stop = g.add_mutually_exclusive_group()
    stop.add_argument("--fits", type=int, default=d["fits"], metavar="N",
                      help=f"number of fits (default {d['fits']})")
    stop.add_argument("--until-plateau", action="store_true",
                      help="fit until the best error improves < 1%% over 5 fits (at most 200 fits)")
    g.add_argument("--learn-rate", type=float, default=d["learn_rate"], metavar="R",
                   help=f"SGD learning rate (default {d['learn_rate']})")
    g.add_argument("--momentum", type=float, default=d["momentum"], metavar="M",
                   help=f"SGD momentum (default {d['momentum']})")
    g.add_argument("--batch-size", type=int, default=d["batch_size"], metavar="N",
                   help=f"minibatch size (default {d['batch_size']})")
    g.add_argument("--validation", type=float, default=d["validation"], metavar="F",
                   help=f"fraction held out for early stopping (default {d['validation']})")
    g.add_argument("--neighbours", type=int, default=d["neighbours"], metavar="K",
                   help=f"neighbours for --algorithm knn (default {d['neighbours']})")
    g.add_argument("--scaler", choices=("standardize", "normalize", "robust", "none"),
                   default=d["scaler"], help=f"input scaling (default {d['scaler']})")
    g.add_argument("--seed", type=int, default=d.get("seed"), metavar="N",
                   help="random seed: the same seed and data give the same model"
                        + (f" (default {d['seed']})" if d.get("seed") is not None else ""))


def settings_from_args(args: argparse.Namespace):
    from app.training import TrainSettings
    try:
        return TrainSettings(algorithm=args.algorithm, hidden=tuple(args.hidden),
                             activation=args.activation, learn_rate=args.learn_rate,
                             momentum=args.momentum, max_iter=args.max_iter,
                             batch_size=args.batch_size, validation=args.validation, seed=args.seed,
                             scaler=args.scaler, num_neighbours=args.neighbours, fits=args.fits,
                             until_plateau=args.until_plateau)
    except ValueError as exc:
        raise CliError(f"bad training setting: {exc}", code=2) from None


def load_training_data(paths: list[Path], args: argparse.Namespace, desc: str = "analysing"):
    """An Analysis from analysis folders (dataset.json inside) or from audio files/folders."""
    from app.analysis import DATASET_FILE, Analysis, analyse_paths
    analysis_dirs = [p for p in paths if p.is_dir() and (p / DATASET_FILE).is_file()]
    if analysis_dirs:
        if len(analysis_dirs) != len(paths):
            raise CliError("give either analysis folders or audio files/folders, not both", code=2)
        if len(paths) > 1:
            raise CliError("give one analysis folder (merge audio by analysing it together)", code=2)
        return Analysis.load(paths[0])
    spec = spec_from_args(args)
    with progress_bar(desc) as progress:
        analysis = analyse_paths(paths, spec, label=getattr(args, "label", None),
                                 level=getattr(args, "level", "frame"), progress=progress)
    if not analysis.clips:
        raise nothing_analysed(paths, analysis.failures)
    report_failures(analysis.failures)
    return analysis


def print_fit(report, total: int | None) -> None:
    of = f"/{total}" if total else ""
    val = "" if report.validation_error is None else f"  validation {report.validation_error:.6f}"
    print(f"fit {report.fit:3d}{of}  error {report.error:.6f}{val}  "
          f"({report.epochs} epochs, {report.seconds:.2f} s)", flush=True)


def train_bundle(analysis, settings, *, quiet: bool = False, augment=None, calibrate: bool = True):
    """Train on an Analysis with app.generalise (augmentation, calibration, unknown), printing each
    fit; returns (bundle, TrainResult). ``augment``: dsp.augment.AugmentSettings (None: the default)."""
    from app.generalise import train_bundle_robust
    from dsp.augment import AugmentSettings
    total = None if settings.until_plateau else settings.fits

    def stage(name: str) -> None:
        if not quiet and name != "training":
            print(f"{name}...", flush=True)

    bundle, result = train_bundle_robust(
        analysis, settings, augment=AugmentSettings(copies=0) if augment is None else augment,
        calibrate=calibrate, on_stage=stage,
        on_fit=None if quiet or settings.algorithm == "knn" else (lambda r: print_fit(r, total)))
    if not quiet:
        if settings.algorithm == "knn":
            print(f"knn: {bundle.training['points']} points, {settings.num_neighbours} neighbours", flush=True)
        aug = bundle.training.get("augmentation", {})
        if aug.get("copies"):
            note = (f"; {aug['clips_not_reloaded']} clip(s) could not be read again and were used as they are"
                    if aug.get("clips_not_reloaded") else "")
            print(f"augmentation: {aug['copies']} copies per clip ({', '.join(aug['transforms'])}){note}")
        cal = bundle.training.get("calibration")
        if cal:
            print(f"held-out clips (never trained on by the probe model): {cal['held_out_clips']}, "
                  f"per-clip accuracy {cal['held_out_accuracy'] * 100:.1f}%; temperature {cal['temperature']:.2f}")
        else:
            print("not calibrated: needs at least two clips (or groups) per class to hold some out; "
                  "confidences are the model's own and there is no 'unknown' answer")
    return bundle, result


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_output(args.out, "file")
    analysis = load_training_data(args.paths, args)
    print(f"training on {len(analysis.clips) or '?'} clip(s) ({class_counts(analysis) or ', '.join(analysis.classes())}), "
          f"{len(analysis.dataset)} points x {analysis.dataset.cols} columns", flush=True)
    from dsp.augment import AugmentSettings
    bundle, result = train_bundle(analysis, settings,
                                  augment=AugmentSettings() if args.augment else None)
    path = bundle.save(args.out)
    final = "" if math.isnan(result.final_error) else f", final error {result.final_error:.4f}"
    how = {"plateau": ", stopped at a plateau", "max_fits": ", no plateau within the fit limit"}
    print(f"wrote {path} ({settings.algorithm}, classes {', '.join(bundle.labels)}{final}"
          f"{how.get(result.stopped_by, '')})")
    return 0
