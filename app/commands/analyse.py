"""`timbrel analyse PATH... --out DIR`: audio files/folders -> FluCoMa dataset.json + labels.json."""
from __future__ import annotations

import argparse
from pathlib import Path

from ._common import (add_feature_options, check_output, class_counts, nothing_analysed, progress_bar,
                      report_failures, spec_from_args)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyse", aliases=["analyze"],
        help="analyse audio files and folders into a FluCoMa DataSet and LabelSet",
        description="Analyse audio files and folders (recursively) into FluCoMa dataset.json and "
                    "labels.json, one point per usable frame. A file's label is the name of its "
                    "folder unless --label is given. Files that fail are listed at the end; the rest "
                    "are still analysed (exit 0 if at least one file was analysed).")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="audio files or folders")
    p.add_argument("--out", required=True, type=Path, metavar="DIR",
                   help="folder for dataset.json, labels.json and analysis.json (created if missing)")
    p.add_argument("--label", default=None, help="label every file with this instead of its folder name")
    p.add_argument("--level", choices=("frame", "clip"), default="frame",
                   help="one point per frame (default) or per clip (mean, std, min, max, median)")
    add_feature_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.analysis import analyse_paths
    spec = spec_from_args(args)
    check_output(args.out, "folder")
    with progress_bar("analysing") as progress:
        analysis = analyse_paths(args.paths, spec, label=args.label, level=args.level,
                                 progress=progress)
    if not analysis.clips:
        raise nothing_analysed(args.paths, analysis.failures)
    report_failures(analysis.failures)
    analysis.save(args.out)
    print(f"analysed {len(analysis.clips)} file(s) ({class_counts(analysis)}): "
          f"{len(analysis.dataset)} points x {analysis.dataset.cols} columns "
          f"[{', '.join(analysis.columns[:6])}{', ...' if len(analysis.columns) > 6 else ''}]")
    print(f"wrote {args.out / 'dataset.json'}, {args.out / 'labels.json'}, {args.out / 'analysis.json'}")
    return 0
