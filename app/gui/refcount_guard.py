"""Guard against a reference-count bug in PySide6 6.12 on CPython 3.11.

Measured here (PySide6-Essentials 6.12.0, Python 3.11.7): every call of a Qt method that returns
nothing (QProgressBar.setValue, QLabel.setText, ...) takes one reference from None without having
given one, and some pyqtgraph paths do the same to True. CPython 3.11 still counts references to
None/True/False (3.12 made them immortal), so after ~100,000 such calls — about two minutes of the
live panel at 30 updates a second — None's count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc" (or bool_dealloc), mid-session or at exit.

`install()` detects the bug with a short self-test and, only when it is present, adds a very large
number of references to None, True and False once. These objects are never freed anyway, so the
extra count changes nothing else; it only keeps the buggy decrements from reaching zero (2**50 of
them would be needed). The real fix is upstream; remove this when PySide6 is fixed or Python >= 3.12.
"""
from __future__ import annotations

import ctypes
import sys

CUSHION = 1 << 50
_installed = False


def leaks_none(calls: int = 2000) -> bool:
    """True when calling a void Qt method drops None's reference count (the PySide6 6.12 bug)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.blockSignals(False)  # returns a bool in C++; setObjectName returns void
        probe.setObjectName("timbrel-probe")
    lost = before - sys.getrefcount(None)
    return lost >= calls // 2


def install() -> bool:
    """Apply the cushion once per process if this PySide6/CPython combination needs it."""
    global _installed
    if _installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False  # None/True/False are immortal there: the stray decrements are harmless
    if not leaks_none():
        return False
    for obj in (None, True, False):
        # ob_refcnt is the first field of every CPython object (a Py_ssize_t).
        ctypes.c_ssize_t.from_address(id(obj)).value += CUSHION
    _installed = True
    return True
