"""`timbrel` command line. Each subcommand lives in app/commands/<name>.py (see its __init__).

Exit codes: 0 success, 1 a file or model problem (one line on stderr), 2 a usage error.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from app.commands import command_modules
from app.commands._common import CliError

PROG = "timbrel"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2) instead of the usage block."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Learn to recognise sounds from labelled clips and "
                     "classify audio files or live input. With no command: the desktop app "
                     "(the headless demo where there is no display).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in command_modules():
        module.register(sub)
    return parser


def default_command(parser: argparse.ArgumentParser) -> list[str]:
    """What `timbrel` with no arguments runs: the desktop app where a window can open, else the demo."""
    from app.commands.gui import display_available

    return ["gui"] if display_available() else ["demo"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant_output()
    parser = build_parser()
    args = parser.parse_args(argv or default_command(parser))
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except BrokenPipeError:                  # `timbrel ... | head`: the reader left; say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:                   # missing paths, unwritable output
        where = exc.filename if exc.filename is not None else ""
        return _fail(f"{where}: {exc.strerror}" if where and exc.strerror else str(exc), 1)
    except ValueError as exc:                # BundleError, AudioFileError, AnalysisError, bad data
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


def _tolerant_output() -> None:
    """Print any file name, even one the terminal's encoding cannot show (e.g. a Latin-1 name on
    a UTF-8 system, or "♪" under a Latin-1 locale): escape it rather than fail on printing."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
