"""Input checks shared by every model object: one wording for each kind of bad input."""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


class NotFittedError(ValueError):
    """A scaler or model was asked to transform or predict before it was fitted or loaded."""


def not_fitted(obj: object, how: str) -> NotFittedError:
    return NotFittedError(f"{type(obj).__name__} is not fitted yet: {how}, or load a saved one")


def check_id(point_id: object) -> str:
    if not isinstance(point_id, str):
        raise ValueError(f"ids are strings, got {type(point_id).__name__} {point_id!r}: pass str(id)")
    return point_id


# Largest size (cols, rows) read from a file: far beyond any real model, small enough that no
# allocation or int64 shape overflows on a damaged or hostile file.
MAX_SIZE = 2**31 - 1


def _numeric(vec: object, what: str, expected: str) -> np.ndarray:
    """``vec`` as a float64 array; strings, booleans, None and mixed objects are refused (numpy
    would silently turn "1.5" into 1.5 or True into 1.0)."""
    try:
        arr = np.asarray(vec)
    except (TypeError, ValueError, RecursionError):  # ragged nesting
        raise ValueError(f"{what} must be {expected}, got a ragged or irregular {type(vec).__name__}") from None
    # numpy turns [0.5, True] into floats: booleans in a flat list are refused one by one
    if arr.dtype.kind not in "iuf" or (isinstance(vec, (list, tuple)) and any(type(v) is bool for v in vec)):
        raise ValueError(f"{what} must be {expected}, got {_describe(vec)}")
    return arr.astype(np.float64, copy=False)


def _describe(vec: object) -> str:
    text = repr(vec)
    return text if len(text) <= 60 else text[:57] + "..."


def as_vector(vec: object, width: int | None, what: str = "point") -> np.ndarray:
    """``vec`` as a finite float64 vector of exactly ``width`` values (any length >= 1 if ``width``
    is None); no copy if it already is one."""
    expected = f"a sequence of {width} numbers" if width is not None else "a sequence of numbers"
    arr = _numeric(vec, what, expected)
    if arr.ndim != 1 or (arr.shape[0] != width if width is not None else arr.shape[0] < 1):
        n = width if width is not None else "at least 1"
        raise ValueError(f"{what} has shape {arr.shape} but {n} values are expected: "
                         f"pass a flat vector of {n} numbers")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or infinity at position(s) "
                         f"{np.flatnonzero(~np.isfinite(arr))[:5].tolist()}: only finite values are allowed")
    return arr


def as_matrix(matrix: object, what: str = "matrix") -> np.ndarray:
    """``matrix`` as a finite 2-D float64 array (a copy, so callers cannot alias it)."""
    arr = np.array(_numeric(matrix, what, "a 2-D array of numbers"), dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (points x columns), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        raise ValueError(f"{what} contains NaN or infinity in row(s) {rows[:5].tolist()}: "
                         "only finite values are allowed")
    return arr


# --- values read from FluCoMa JSON ------------------------------------------------------------------
def json_int(value: object, name: str, minimum: int = 0) -> int:
    """A size or index from a file: an int, or a float with an integral value (FluCoMa reads them
    with ``get<index>()``, and Max dicts or other tools may write 3 as 3.0)."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok and isinstance(value, (float, np.floating)):
        ok = bool(np.isfinite(value)) and float(value).is_integer()
    if not ok or not minimum <= value <= MAX_SIZE:
        raise ValueError(f"{name} must be a whole number from {minimum} to {MAX_SIZE}, got {_describe(value)}")
    return int(value)


def json_vector(value: object, width: int, what: str) -> np.ndarray:
    """A vector from a file; a single number stands for a one-value vector (FluCoMa's reader
    accepts that, and Max's dict writes one-element arrays as plain numbers)."""
    if width == 1 and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(f"{what} must be a list of {width} numbers, got {_describe(value)}")
    return as_vector(value, width, what)


def json_label(value: object, what: str) -> str:
    """A label from a file: a non-empty string, or a number (written by hand, by a Max dict, or by
    a tool that turned "1" into 1), kept as its text: 3 -> "3", 2.0 -> "2", 0.5 -> "0.5"."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))
    raise ValueError(f"{what} must be a non-empty string label, got {_describe(value)}")


def from_json(what: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a ``from_dict``: whatever odd structure a file holds, the caller gets a ValueError
    (TypeError, KeyError, IndexError and deep-recursion errors are re-raised as one)."""
    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def loader(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except ValueError:
                raise
            except (TypeError, KeyError, IndexError, AttributeError, RecursionError, OverflowError) as exc:
                raise ValueError(f"{what} is malformed ({type(exc).__name__}: {exc}); "
                                 "is this a FluCoMa file of the right kind?") from None
        return loader
    return wrap


def check_unique_ids(ids: Iterable[object]) -> list[str]:
    ids = [check_id(i) for i in ids]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        dups = [i for i in ids if i in seen or seen.add(i)]
        raise ValueError(f"duplicate ids {sorted(set(dups))[:5]}: every point needs its own id")
    return ids


def field(d: object, key: str, what: str) -> Any:
    """``d[key]`` from a dict being loaded, or a ValueError naming the missing key."""
    if not isinstance(d, Mapping):
        raise ValueError(f"{what} must be a JSON object (dict), got {type(d).__name__}")
    if key not in d:
        raise ValueError(f"{what} has no {key!r} entry: is this the right kind of file? "
                         f"(keys found: {sorted(map(str, d))[:8]})")
    return d[key]


def positive_int(value: object, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def number_in(value: object, name: str, low: float, high: float,
              low_open: bool = False, high_open: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = np.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


def describe_ids(ids: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
