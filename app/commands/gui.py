"""`timbrel gui`: open the desktop app (app/gui, imported only when asked for)."""
from __future__ import annotations

import argparse

from ._common import CliError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("gui", help="open the desktop app",
                       description="Open the Timbrel desktop app (needs a display).")
    p.set_defaults(func=run)


def gui_available() -> bool:
    """True when app.gui exists and has an entry point (used by `timbrel` with no arguments)."""
    import importlib.util
    try:
        return importlib.util.find_spec("app.gui") is not None
    except ImportError:
        return False


def run(args: argparse.Namespace) -> int:
    try:
        import app.gui as gui
    except ImportError as exc:
        raise CliError(f"the desktop app cannot start ({exc}); try `timbrel demo`") from None
    main = getattr(gui, "main", None)
    if main is None:
        raise CliError("the desktop app is not available in this build (app.gui has no main); "
                       "try `timbrel demo`")
    return int(main([]) or 0)
