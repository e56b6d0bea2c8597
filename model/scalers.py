"""FluCoMa's scalers: Normalize, Standardize and RobustScale, with FluCoMa's JSON dumps.

Formulas and dumps follow flucoma-core (include/algorithms/public/Normalization.hpp,
Standardization.hpp, RobustScaling.hpp; include/data/FluidJSON.hpp; util/ScalerUtils.hpp):

* every scaler maps ``y = (x - centre) / spread * gain + offset`` per column, in that order;
* a spread (data range, std, percentile range) or Normalize's output range ``max - min`` below
  10*eps counts as 1 (``handleZerosInScale``), both when fitting and when loading a dump;
  so a constant column comes out at ``offset`` (Normalize: ``min``), and ``Normalize(1, 1)``
  maps onto [1, 2], exactly as FluCoMa does;
* Standardize's dump holds the population std after that substitution, RobustScale's the
  substituted range; its percentiles are FluCoMa's nearest-rank ones (no interpolation):
  ``sorted[lrint(p / 100 * (n - 1))]``, ties to even.

Dumps: ``{"cols", "data_max", "data_min", "max", "min"}``, ``{"cols", "mean", "std"}``,
``{"cols", "data_high", "data_low", "high", "low", "median", "range"}``. A dump of an unfitted
FluCoMa scaler (``"cols": 0`` and empty lists, what FluCoMa's ``write`` saves before ``fit``) loads
as an unfitted scaler with its parameters.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import numpy as np

from .checks import as_vector, field, from_json, json_int, json_vector, not_fitted, number_in
from .dataset import DataSet
from .jsonio import load_as, save_json

TINY = 10 * np.finfo(np.float64).eps


def _safe(r: np.ndarray | float) -> np.ndarray:
    # FluCoMa's handleZerosInScale: anything below 10*eps (negative values too) becomes 1
    return np.where(np.asarray(r) < TINY, 1.0, r)


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

    def _affine(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        """(centre, spread, gain, offset), spread and gain already made safe."""
        raise NotImplementedError

    def _require_fitted(self) -> None:
        if self._cols is None:
            raise not_fitted(self, "call fit(dataset)")

    def transform_point(self, vec: Iterable[float]) -> np.ndarray:
        self._require_fitted()
        x = as_vector(vec, self._cols, "point")
        centre, spread, gain, offset = self._affine()
        return (x - centre) / spread * gain + offset

    def inverse_transform_point(self, vec: Iterable[float]) -> np.ndarray:
        self._require_fitted()
        y = as_vector(vec, self._cols, "point")
        centre, spread, gain, offset = self._affine()
        return (y - offset) / gain * spread + centre

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
        centre, spread, gain, offset = self._affine()
        out = (m - offset) / gain * spread + centre if inverse else (m - centre) / spread * gain + offset
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
        return from_json(f"{cls.__name__} JSON")(cls._from_dict)(d)

    @classmethod
    def _from_dict(cls, d: Mapping):
        what = f"{cls.__name__} JSON"
        cols = json_int(field(d, "cols", what), f"{what} 'cols'")
        obj = cls._from_params(d)
        if cols == 0:  # FluCoMa's dump of a scaler never fitted: its stats are empty lists
            for k in cls._stats:
                if field(d, k, what) not in ([], None):
                    raise ValueError(f"{what} says cols 0 but {k!r} holds values: the file is damaged")
            return obj
        stats = {k: json_vector(field(d, k, what), cols, f"{what} {k!r} (cols is {cols})")
                 for k in cls._stats}
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
        return f["data_min"], _safe(f["data_max"] - f["data_min"]), float(_safe(self._max - self._min)), self._min

    def _params_dict(self):
        return {"min": self._min, "max": self._max}

    @classmethod
    def _from_params(cls, d):
        return cls(field(d, "min", "Normalize JSON"), field(d, "max", "Normalize JSON"))


class Standardize(_Scaler):
    """Zero mean, unit (population) standard deviation per column."""

    _stats = ("mean", "std")

    def _compute(self, m):
        return {"mean": m.mean(axis=0), "std": _safe(m.std(axis=0))}

    def _affine(self):
        return self._fitted["mean"], _safe(self._fitted["std"]), 1.0, 0.0


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
        s, last = np.sort(m, axis=0), m.shape[0] - 1

        def rank(p: float) -> np.ndarray:  # FluCoMa: sorted(lrint(p * (length - 1))); rint ties to even
            return s[int(np.rint(p * last))]

        lo, med, hi = rank(self._low / 100.0), rank(0.5), rank(self._high / 100.0)
        return {"data_low": lo, "data_high": hi, "median": med, "range": _safe(hi - lo)}

    def _affine(self):
        return self._fitted["median"], _safe(self._fitted["range"]), 1.0, 0.0

    def _params_dict(self):
        return {"low": self._low, "high": self._high}

    @classmethod
    def _from_params(cls, d):
        # FluCoMa bounds each percentile to 0..100 but not low <= high (RobustScaleClient.hpp), so a
        # dump may hold low > high; its negative range then counts as 1, here as there
        obj = cls()
        obj._low = number_in(field(d, "low", "RobustScale JSON"), "RobustScale JSON 'low'", 0, 100)
        obj._high = number_in(field(d, "high", "RobustScale JSON"), "RobustScale JSON 'high'", 0, 100)
        return obj
