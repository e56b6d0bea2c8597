"""FluCoMa's scalers: Normalize, Standardize and RobustScale, with FluCoMa's JSON dumps.

Every scaler is an affine map per column, ``y = (x - centre) * gain + offset``; the subclasses only
say how ``fit`` finds centre/gain/offset. A column whose range (or std) is below 10*eps is
treated as having range 1, so constant columns pass through shifted instead of dividing by zero.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from .checks import as_vector, field, not_fitted, number_in, positive_int
from .dataset import DataSet
from .jsonio import load_as, save_json

TINY = 10 * np.finfo(np.float64).eps


def _safe_range(r: np.ndarray) -> np.ndarray:
    return np.where(np.abs(r) < TINY, 1.0, r)


def _inverse(y, centre, gain, offset):
    # gain is 0 only for Normalize(min == max): every value came from the whole column, map to its min
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (y - offset) / gain + centre
    return np.where(np.asarray(gain) == 0, centre, x)


class _Scaler:
    _stats: tuple[str, ...] = ()  # names of the fitted per-column arrays, as in the JSON

    def __init__(self) -> None:
        self._cols: int | None = None
        self._fitted: dict[str, np.ndarray] = {}

    @property
    def fitted(self) -> bool:
        return self._cols is not None

    @property
    def cols(self) -> int | None:
        return self._cols

    def fit(self, dataset: DataSet) -> "_Scaler":
        if not isinstance(dataset, DataSet):
            raise ValueError(f"fit needs a DataSet, got {type(dataset).__name__}")
        if len(dataset) == 0:
            raise ValueError(f"{type(self).__name__}.fit got an empty DataSet: add points first")
        _, m = dataset.to_numpy()
        stats = self._compute(m)
        self._cols, self._fitted = dataset.cols, stats
        return self

    def _compute(self, m: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _affine(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if self._cols is None:
            raise not_fitted(self, "call fit(dataset)")

    def transform_point(self, vec: Iterable[float]) -> np.ndarray:
        self._require_fitted()
        x = as_vector(vec, self._cols, "point")
        centre, gain, offset = self._affine()
        return (x - centre) * gain + offset

    def inverse_transform_point(self, vec: Iterable[float]) -> np.ndarray:
        self._require_fitted()
        y = as_vector(vec, self._cols, "point")
        return _inverse(y, *self._affine())

    def transform(self, dataset: DataSet) -> DataSet:
        return self._map(dataset, inverse=False)

    def inverse_transform(self, dataset: DataSet) -> DataSet:
        return self._map(dataset, inverse=True)

    def fit_transform(self, dataset: DataSet) -> DataSet:
        return self.fit(dataset).transform(dataset)

    def _map(self, dataset: DataSet, inverse: bool) -> DataSet:
        self._require_fitted()
        if not isinstance(dataset, DataSet):
            raise ValueError(f"transform needs a DataSet, got {type(dataset).__name__}")
        if dataset.cols != self._cols:
            raise ValueError(f"{type(self).__name__} was fitted on {self._cols} columns but the DataSet "
                             f"has {dataset.cols}: fit it on data of this width")
        if len(dataset) == 0:
            return DataSet(self._cols)
        ids, m = dataset.to_numpy()
        centre, gain, offset = self._affine()
        out = _inverse(m, centre, gain, offset) if inverse else (m - centre) * gain + offset
        return DataSet.from_numpy(ids, out)

    # --- JSON -----------------------------------------------------------------------------------
    def _params_dict(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        self._require_fitted()
        d: dict = {"cols": self._cols}
        d.update({k: self._fitted[k].tolist() for k in self._stats})
        d.update(self._params_dict())
        return dict(sorted(d.items()))

    @classmethod
    def _from_params(cls, d: Mapping) -> "_Scaler":
        return cls()

    @classmethod
    def from_dict(cls, d: Mapping):
        what = f"{cls.__name__} JSON"
        cols = positive_int(field(d, "cols", what), f"{what} 'cols'")
        stats = {}
        for k in cls._stats:
            v = field(d, k, what)
            try:
                stats[k] = as_vector(v, cols, f"{what} {k!r}")
            except ValueError as exc:
                raise ValueError(f"{exc} (cols is {cols})") from None
        obj = cls._from_params(d)
        obj._cols, obj._fitted = cols, stats
        return obj

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike):
        return load_as(cls.from_dict, path)


class Normalize(_Scaler):
    """Map each column's fitted [data_min, data_max] onto [min, max]."""

    _stats = ("data_min", "data_max")

    def __init__(self, min: float = 0.0, max: float = 1.0):  # noqa: A002 - FluCoMa's names
        super().__init__()
        self.min = min
        self.max = max

    @property
    def min(self) -> float:
        return self._min

    @min.setter
    def min(self, value: float) -> None:
        self._min = number_in(value, "min", -np.inf, np.inf, True, True)

    @property
    def max(self) -> float:
        return self._max

    @max.setter
    def max(self, value: float) -> None:
        self._max = number_in(value, "max", -np.inf, np.inf, True, True)

    def _compute(self, m):
        return {"data_min": m.min(axis=0), "data_max": m.max(axis=0)}

    def _affine(self):
        f = self._fitted
        gain = (self._max - self._min) / _safe_range(f["data_max"] - f["data_min"])
        return f["data_min"], gain, self._min

    def _params_dict(self):
        return {"min": self._min, "max": self._max}

    @classmethod
    def _from_params(cls, d):
        return cls(field(d, "min", "Normalize JSON"), field(d, "max", "Normalize JSON"))


class Standardize(_Scaler):
    """Zero mean, unit (population) standard deviation per column."""

    _stats = ("mean", "std")

    def _compute(self, m):
        return {"mean": m.mean(axis=0), "std": m.std(axis=0)}

    def _affine(self):
        return self._fitted["mean"], 1.0 / _safe_range(self._fitted["std"]), 0.0


class RobustScale(_Scaler):
    """Centre on the median and divide by the spread between the ``low`` and ``high`` percentiles."""

    _stats = ("data_low", "data_high", "median", "range")

    def __init__(self, low: float = 25.0, high: float = 75.0):
        super().__init__()
        low = number_in(low, "low", 0, 100)
        high = number_in(high, "high", 0, 100)
        if low > high:
            raise ValueError(f"low ({low}) must not exceed high ({high}): they are percentiles 0..100")
        self._low, self._high = low, high

    @property
    def low(self) -> float:
        return self._low

    @low.setter
    def low(self, value: float) -> None:
        value = number_in(value, "low", 0, self._high)
        self._low = value

    @property
    def high(self) -> float:
        return self._high

    @high.setter
    def high(self, value: float) -> None:
        self._high = number_in(value, "high", self._low, 100)

    def _compute(self, m):
        lo, med, hi = np.percentile(m, [self._low, 50.0, self._high], axis=0)
        return {"data_low": lo, "data_high": hi, "median": med, "range": hi - lo}

    def _affine(self):
        return self._fitted["median"], 1.0 / _safe_range(self._fitted["range"]), 0.0

    def _params_dict(self):
        return {"low": self._low, "high": self._high}

    @classmethod
    def _from_params(cls, d):
        return cls(field(d, "low", "RobustScale JSON"), field(d, "high", "RobustScale JSON"))
