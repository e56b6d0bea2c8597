"""`timbrel` subcommands, one small module each.

A command module defines ``register(subparsers) -> None``: it adds its subparser and sets
``func=run`` where ``run(args) -> int`` returns the exit code. app.cli finds every module in this
package by itself, so adding a command means adding a file here and nothing else. Keep heavy imports
(numba, librosa, Qt) inside ``run`` so ``timbrel --help`` stays fast.

Expected failures raise ``CliError`` (or a ValueError/OSError with a one-line message); app.cli
prints them as one line on stderr and exits 1.
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from types import ModuleType

# Shown first in --help, in this order; any other module follows alphabetically.
CORE = ("demo", "analyse", "train", "predict", "gui")


def command_modules() -> list[ModuleType]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    ordered = [n for n in CORE if n in names] + sorted(n for n in names if n not in CORE)
    modules = []
    for name in ordered:
        try:
            modules.append(importlib.import_module(f"{__name__}.{name}"))
        except Exception as exc:  # noqa: BLE001 - one broken command must not take the others down
            print(f"timbrel: warning: command {name!r} is unavailable ({type(exc).__name__}: {exc})",
                  file=sys.stderr)
    return modules
