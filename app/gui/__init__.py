"""Timbrel's desktop app (PySide6 + pyqtgraph).

`run(project)` is the entry point `timbrel gui [PROJECT]` and a bare `timbrel` (with a display) call.
Qt is imported only here and below, so the rest of Timbrel works without it.
"""
from __future__ import annotations

import sys


def run(project: str | None = None) -> int:
    """Open the main window on `project` (a folder), the last project, or the demo; returns the exit code."""
    import os

    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        # Qt would abort with a long xcb message; say it plainly instead.
        print("timbrel: no display to open the desktop app on; try `timbrel demo` for the "
              "command-line version", file=sys.stderr)
        return 1
    from PySide6.QtWidgets import QApplication

    import pyqtgraph as pg

    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Timbrel")
    app.setOrganizationName("Timbrel")
    pg.setConfigOptions(antialias=True)
    initial = _initial_project(project)
    win = MainWindow(initial)
    _install_excepthook(win)
    win.show()
    if initial.folder is None:  # first start: build and open the example
        win.open_demo(explicit=False)
    return int(app.exec())


def _install_excepthook(win) -> None:
    """An unexpected error becomes a sentence in the status bar and a dialog, never a traceback on
    screen; the traceback goes to a log file for a bug report."""
    import time
    import traceback

    from app.project import app_data_dir

    log = app_data_dir() / "errors.log"

    def hook(kind, value, tb) -> None:
        try:
            with open(log, "a", encoding="utf-8") as f:
                f.write(time.strftime("%Y-%m-%d %H:%M:%S ") + "".join(traceback.format_exception(kind, value, tb)))
        except OSError:
            pass
        try:
            win.error(f"Something went wrong: {value or kind.__name__}. Your project is saved; "
                      f"details are in {log}.")
        except Exception:  # noqa: BLE001 - never let the hook itself raise
            pass

    sys.excepthook = hook


def _initial_project(project: str | None):
    from app.project import Project, ProjectError, load_recent

    if project:
        try:
            return Project.open(project)
        except ProjectError as e:
            print(f"timbrel: {e}", file=sys.stderr)
            raise SystemExit(1)
    for recent in load_recent():
        try:
            return Project.open(recent)
        except ProjectError:
            continue
    from app.gui.demo_project import demo_folder, demo_ready

    if demo_ready():
        try:
            return Project.open(demo_folder(), read_only=True)
        except ProjectError:
            pass
    # First start: an empty read-only placeholder while the example is prepared (an edit meanwhile
    # goes into a new project, like any edit of a read-only project).
    placeholder = Project(None, read_only=True)
    placeholder.title = "Preparing the example"
    return placeholder


def main(argv: list[str] | None = None) -> int:
    """`python -m app.gui [PROJECT]`; also what older `timbrel gui` code calls."""
    args = list(sys.argv[1:] if argv is None else argv)
    return run(args[0] if args else None)


if __name__ == "__main__":
    raise SystemExit(main())
