"""`timbrel predict MODEL FILE... [--json]`: classify audio files with a trained bundle."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import nothing_analysed, progress_bar, report_failures


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="classify audio files with a trained model bundle",
        description="Classify each audio file (folders are searched recursively) with a model "
                    "bundle: the winning label, its mean probability over the file's frames, and "
                    "the share of frames won by each class. Exit 1 if any file could not be classified.")
    p.add_argument("model", type=Path, metavar="MODEL", help="a *.timbrel.json bundle from `timbrel train`")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="audio files or folders")
    p.add_argument("--json", action="store_true",
                   help='print only a JSON list of {"path", "label", "unknown", "confidence", '
                        '"probabilities", "frames", "shares"} objects on stdout ("label" is null '
                        'and "unknown" true for sound unlike anything the model was trained on)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.analysis import FileFailure, scan_audio_files
    from app.bundle import Bundle
    bundle = Bundle.load(args.model)
    files, failures = scan_audio_files(args.files)
    if not files:
        raise nothing_analysed(args.files, failures)
    results = []
    with progress_bar("predicting") as progress:
        for done, path in enumerate(files, start=1):
            try:
                results.append(bundle.predict_file(path))
            except ValueError as exc:      # AudioFileError, no usable frames
                failures.append(FileFailure(path, " ".join(str(exc).split())))
            progress(done, len(files), path)
    if args.json:
        json.dump([r.to_dict() for r in results], sys.stdout, indent=1)
        print()
    else:
        print_table(results, bundle.labels)
    report_failures(failures, "could not be classified")
    return 1 if failures else 0


def print_table(results, labels: list[str]) -> None:
    width = max((len(r.path) for r in results), default=4)
    label_width = max(len("unknown"), *map(len, labels))
    for r in results:
        shares = ", ".join(f"{c} {r.shares[c]:.0%}" for c in labels)
        shown = "unknown" if r.unknown else r.label
        closest = f", closest {r.best}" if r.unknown else ""
        print(f"{r.path:<{width}}  {shown:<{label_width}}  {r.confidence:5.1%}  "
              f"(frames: {shares} of {r.frames}{closest})")
