"""`timbrel devices`: list the input devices live input can use (index, name, host API, rate)."""
from __future__ import annotations

import argparse
import json

from ._common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("devices", help="list audio input devices",
                       description="List the input devices PortAudio can record from; `*` marks the "
                                   "default. Give the index or (part of) the name to `timbrel live --device`. "
                                   "Exit 1 when there is none.")
    p.add_argument("--json", action="store_true",
                   help='print a JSON list of {"index", "name", "hostapi", "channels", '
                        '"default_samplerate", "is_default"} objects')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from dsp.live import LiveInputError, list_input_devices
    try:
        devices = list_input_devices()
    except LiveInputError as exc:
        raise CliError(str(exc)) from None
    if args.json:
        print(json.dumps([asdict(d) for d in devices]))
    else:
        for d in devices:
            print(d.describe())
    if not devices:
        raise CliError("no input device: PortAudio sees no device that can record "
                       "(is a sound server running, a microphone connected?)")
    return 0
