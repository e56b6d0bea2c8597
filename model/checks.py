"""Input checks shared by every model object: one wording for each kind of bad input."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


class NotFittedError(ValueError):
    """A scaler or model was asked to transform or predict before it was fitted or loaded."""


def not_fitted(obj: object, how: str) -> NotFittedError:
    return NotFittedError(f"{type(obj).__name__} is not fitted yet: {how}, or load a saved one")


def check_id(point_id: object) -> str:
    if not isinstance(point_id, str):
        raise ValueError(f"ids are strings, got {type(point_id).__name__} {point_id!r}: pass str(id)")
    return point_id


def as_vector(vec: object, width: int, what: str = "point") -> np.ndarray:
    """``vec`` as a finite float64 vector of exactly ``width`` values (no copy if already one)."""
    try:
        arr = np.asarray(vec, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a sequence of {width} numbers, got {type(vec).__name__}") from None
    if arr.ndim != 1 or arr.shape[0] != width:
        raise ValueError(f"{what} has shape {arr.shape} but {width} values are expected: "
                         f"pass a flat vector of {width} numbers")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what} contains NaN or infinity at position(s) "
                         f"{np.flatnonzero(~np.isfinite(arr))[:5].tolist()}: only finite values are allowed")
    return arr


def as_matrix(matrix: object, what: str = "matrix") -> np.ndarray:
    """``matrix`` as a finite 2-D float64 array (a copy, so callers cannot alias it)."""
    try:
        arr = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a 2-D array of numbers") from None
    if arr.ndim != 2:
        raise ValueError(f"{what} must be 2-D (points x columns), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        rows = np.flatnonzero(~np.isfinite(arr).all(axis=1))
        raise ValueError(f"{what} contains NaN or infinity in row(s) {rows[:5].tolist()}: "
                         "only finite values are allowed")
    return arr


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
                         f"(keys found: {sorted(d)[:8]})")
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
