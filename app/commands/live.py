"""`timbrel live MODEL`: classify the live input (or a file played through the same path).

Prints one line per change of the decided label, then a summary (decisions, overflows, latency).
With --json every stdout line is one JSON object; the summary (``"summary": true``) is the last.
"""
from __future__ import annotations

import argparse
import json
import math
import queue
import sys
from pathlib import Path

from ._common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live", help="classify live input (or a file) with a trained model bundle",
        description="Classify the live input frame by frame and print each change of label with its "
                    "time and probability, then a summary. Runs until Ctrl-C, --seconds, or the end of "
                    "--input-file. Exit 1 if the input fails (the summary is still printed).")
    p.add_argument("model", type=Path, metavar="MODEL", help="a *.timbrel.json bundle from `timbrel train`")
    p.add_argument("--device", "-d", default=None, metavar="D",
                   help="input device index or (part of its) name, see `timbrel devices` (default: the default input)")
    p.add_argument("--seconds", type=float, default=None, metavar="S", help="stop after S seconds of audio")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"time", "label", "unknown", "probabilities", "f0", "confidence", '
                        '"level_db", "latency_s"} per change, then {"summary": true, ...}')
    p.add_argument("--input-file", type=Path, default=None, metavar="FILE",
                   help="analyse FILE through the live path instead of a device (as fast as possible)")
    p.add_argument("--realtime", action="store_true", help="with --input-file: play it at real-time pace")
    p.add_argument("--blocksize", type=int, default=256, metavar="N", help="audio block size (default 256)")
    p.add_argument("--smoothing", type=int, default=5, metavar="N",
                   help="average probabilities over the last N frames (default 5, about 0.12 s)")
    p.add_argument("--min-level", type=float, default=None, metavar="DB",
                   help="silence below this level gives no label (dBFS; default: the model's, -60)")
    p.add_argument("--min-confidence", type=float, default=0.5, metavar="P",
                   help="pitch confidence below this gives no label (0..1; default 0.5)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from app.bundle import Bundle
    from dsp.live import DecisionSettings, FileInput, LiveInput, LiveInputError, LiveWorker, StreamEnded

    if args.realtime and args.input_file is None:
        raise CliError("--realtime needs --input-file", 2)
    if args.smoothing < 1 or args.blocksize < 0:
        raise CliError("--smoothing must be >= 1 and --blocksize >= 0", 2)
    bundle = Bundle.load(args.model)
    settings = DecisionSettings(smoothing_frames=args.smoothing, min_level_db=args.min_level,
                                min_confidence=args.min_confidence)
    try:
        if args.input_file is not None:
            source = FileInput(args.input_file, bundle.spec.sr, realtime=args.realtime,
                               blocksize=args.blocksize or 256)
        else:
            source = LiveInput(args.device, bundle.spec.sr, args.blocksize)
        worker = LiveWorker(source, bundle, bundle.spec, settings)
        q = worker.subscribe(maxsize=0)  # unbounded: the CLI must see every change
        worker.start()
    except LiveInputError as exc:
        raise CliError(str(exc)) from None
    if isinstance(source, LiveInput):  # on stderr: stdout stays JSON-only with --json
        print(f"listening to {source.device.name!r} at {source.samplerate:g} Hz "
              f"(input latency {source.stream_latency * 1000:.0f} ms); Ctrl-C to stop", file=sys.stderr)

    printer = _Printer(args.json, bundle.labels)
    end: StreamEnded | None = None
    try:
        while end is None:
            try:
                item = q.get(timeout=0.2)
            except queue.Empty:
                continue
            if isinstance(item, StreamEnded):
                end = item
            else:
                printer.decision(item)
                if args.seconds is not None and item.time >= args.seconds:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        worker.stop()
    end = end or worker.ended or StreamEnded("stopped")
    printer.summary(worker, end)
    if end.error:
        raise CliError(end.error)
    return 0


class _Printer:
    def __init__(self, as_json: bool, labels: list[str]) -> None:
        self.as_json, self.labels = as_json, labels
        self.last: object = object()  # no label yet: the first decision is a change
        self.changes = 0
        self.seconds = 0.0
        self.latencies: list[float] = []

    def decision(self, d) -> None:
        self.seconds = d.time
        self.latencies.append(d.latency_s)
        state = (d.label, d.unknown)
        if state == self.last:
            return
        self.last, self.changes = state, self.changes + 1
        if self.as_json:
            print(json.dumps({"time": round(d.time, 4), "label": d.label, "unknown": d.unknown,
                              "probabilities": d.probabilities,
                              "f0": _num(d.f0), "confidence": _num(d.confidence), "level_db": _num(d.level_db),
                              "latency_s": _num(d.latency_s)}), flush=True)
        else:
            p = d.probabilities.get(d.label, math.nan) if d.label else math.nan
            what = (f"{d.label:<12} {p:5.1%}" if d.label else
                    "?            (unknown: unlike the training sounds)" if d.unknown else
                    "-            (silence or unpitched)")
            f0 = f"{d.f0:7.1f} Hz" if math.isfinite(d.f0) else "        -"
            print(f"{d.time:8.2f} s  {what}  {f0}", flush=True)

    def summary(self, worker, end) -> None:
        # Counted over the decisions printed from (the worker may have analysed a little further).
        from dsp.live import LiveStats
        stats = LiveStats(decisions=len(self.latencies), overflows=worker.stats.overflows)
        stats.latencies.extend(self.latencies)
        mean, p95 = stats.latency_mean(), stats.latency_p95()
        if self.as_json:
            print(json.dumps({"summary": True, "decisions": stats.decisions, "changes": self.changes,
                              "seconds": round(self.seconds, 4), "overflows": stats.overflows,
                              "latency_mean_s": _num(mean), "latency_p95_s": _num(p95),
                              "ended": end.reason, "error": end.error}), flush=True)
        else:
            print(f"{stats.decisions} decisions over {self.seconds:.2f} s, {self.changes} changes, "
                  f"{stats.overflows} overflows, latency mean {mean * 1000:.1f} ms, "
                  f"p95 {p95 * 1000:.1f} ms ({end.reason})", flush=True)


def _num(x: float) -> float | None:
    """JSON has no NaN: unvoiced f0 and unknown latency become null."""
    return None if x is None or not math.isfinite(x) else round(float(x), 6)
