"""Helpers the commands share: errors, progress bars, feature and failure formatting."""
from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from app.demo import DEMO_CONTEXT, DEMO_FEATURES

# `analyse` and `train` default to the demo's features, measured to work (app/demo.py).
DEFAULT_FEATURES = DEMO_FEATURES


class CliError(Exception):
    """An expected failure: printed as one line on stderr, exit code ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def features_arg(text: str) -> tuple[str, ...]:
    """argparse type for ``--features pitch,confidence,mfcc`` (checked against dsp.features)."""
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one feature, e.g. pitch,confidence")
    from dsp.features import FeatureSpec
    try:
        FeatureSpec(features=names).columns()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return names


def add_feature_options(p: argparse.ArgumentParser, default: tuple[str, ...] | None = DEFAULT_FEATURES) -> None:
    shown = ",".join(default) if default else "as in the analysis"
    p.add_argument("--features", type=features_arg, default=default, metavar="LIST",
                   help=f"comma-separated features: pitch, confidence, mfcc, mfcc_shape, harmonics, "
                        f"centroid, flatness, loudness (default: {shown})")
    p.add_argument("--context", type=int, default=DEMO_CONTEXT if default else None, metavar="FRAMES",
                   help="add each column's mean and std over the last FRAMES frames (0: each frame "
                        f"alone; default: {DEMO_CONTEXT if default else 'as in the analysis'}, about 0.25 s)")
    p.add_argument("--min-loudness", type=float, default=None, metavar="DB",
                   help="ignore frames quieter than this (dBFS; default: the feature spec's, -60)")
    p.add_argument("--min-confidence", type=float, default=None, metavar="P",
                   help="ignore frames with pitch confidence below this (0..1; default 0)")


def spec_from_args(args: argparse.Namespace, features: tuple[str, ...] | None = None):
    """A FeatureSpec from --features/--min-loudness/--min-confidence."""
    from dsp.features import FeatureSpec
    kw: dict = {"features": tuple(features or args.features)}
    if getattr(args, "context", None) is not None:
        kw["context_frames"] = args.context
    if args.min_loudness is not None:
        kw["min_loudness_db"] = args.min_loudness
    if args.min_confidence is not None:
        kw["min_confidence"] = args.min_confidence
    try:
        return FeatureSpec(**kw)
    except ValueError as exc:       # e.g. --min-confidence 2: the user's option, not a file problem
        raise CliError(str(exc), code=2) from None


def nothing_analysed(paths, failures) -> CliError:
    """The error when no file could be analysed: the one reason, the list, or that there was no audio."""
    from dsp.audio import SUPPORTED_EXTENSIONS
    if len(failures) == 1:                      # e.g. one mistyped path: just that, in one line
        return CliError(f"{failures[0].path}: {_without_path(failures[0])}")
    if failures:
        report_failures(failures)
        return CliError(f"none of the {len(failures)} file(s) could be analysed (reasons above)")
    return CliError(f"no audio files found in {', '.join(map(str, paths))} "
                    f"(looked for {', '.join(sorted(SUPPORTED_EXTENSIONS))})")


def check_output(path: Path, kind: str) -> None:
    """Fail before the long work if ``path`` can obviously not be written (``kind``: "file"/"folder")."""
    if kind == "file" and path.is_dir():
        raise CliError(f"--out {path}: is a folder; give a file name such as model.timbrel.json")
    if kind == "folder" and path.exists() and not path.is_dir():
        raise CliError(f"--out {path}: is a file; give a folder for dataset.json and labels.json")
    parent = path if kind == "folder" else path.parent
    while not parent.exists() and parent != parent.parent:   # the nearest folder that exists
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise CliError(f"--out {path}: cannot write in {parent} (permission denied or not a folder)")


@contextmanager
def progress_bar(desc: str, enabled: bool = True) -> Iterator:
    """A tqdm bar on stderr (hidden when stderr is not a terminal); yields a (done, total, path) callback."""
    from tqdm import tqdm
    bar = tqdm(total=0, desc=desc, unit="file", file=sys.stderr, leave=False,
               disable=None if enabled else True, dynamic_ncols=True)

    def update(done: int, total: int, path: Path) -> None:
        if bar.total != total or done < bar.n:      # a new stage (e.g. the demo's test folder)
            bar.reset(total=total)
        bar.set_postfix_str(Path(path).name, refresh=False)
        bar.update(done - bar.n)
        if done == total:
            bar.clear()           # leave a clean line for what the command prints next

    try:
        yield update
    finally:
        bar.close()


def report_failures(failures, what: str = "could not be analysed") -> None:
    """List per-file failures on stderr, one line each, after the work is done."""
    if not failures:
        return
    print(f"{len(failures)} file(s) {what}:", file=sys.stderr)
    for f in failures:
        print(f"  {f.path}: {_without_path(f)}", file=sys.stderr)


def _without_path(failure) -> str:
    prefix = f"{failure.path}: "     # AudioFileError messages already name the file
    return failure.reason[len(prefix):] if failure.reason.startswith(prefix) else failure.reason


def class_counts(analysis) -> str:
    counts: dict[str, int] = {}
    for clip in analysis.clips:
        counts[clip.label] = counts.get(clip.label, 0) + 1
    return ", ".join(f"{label} {n}" for label, n in counts.items())
