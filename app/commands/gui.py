"""`timbrel gui [PROJECT]`: open the desktop app (app/gui, imported only when asked for)."""
from __future__ import annotations

import argparse
import os
import sys

from ._common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app",
                       description="Open the Timbrel desktop app (needs a display): PROJECT, else "
                                   "the last project, else the trombone/oboe example.")
    p.add_argument("project", nargs="?", help="a project folder to open")
    p.set_defaults(func=run)


def display_available() -> bool:
    """True when a window can be shown: `timbrel` with no arguments then opens the app, not the demo."""
    if os.environ.get("QT_QPA_PLATFORM", "") in ("offscreen", "minimal"):
        return False  # a window nobody can see would wait forever
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run(args: argparse.Namespace) -> int:
    try:
        import app.gui as gui
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start ({exc}); try `timbrel demo`") from None
    return int(gui.run(args.project) or 0)
