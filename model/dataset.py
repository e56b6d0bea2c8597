"""FluCoMa's DataSet (id -> fixed-width float vector) and LabelSet (id -> one string label).

JSON on disk is FluCoMa's: ``{"cols": N, "data": {"id": [v0, ..., vN-1]}}`` and
``{"cols": 1, "data": {"id": ["label"]}}`` (flucoma-core include/data/FluidJSON.hpp, to_json /
from_json for FluidDataSet). Points keep their insertion order; FluCoMa's files list ids sorted
as strings ("0", "1", "10", ...), because its JSON objects are sorted maps.

Reading accepts everything FluCoMa writes and reads: an empty set is written without "data"
(``{"cols": N}``; a cleared DataSet is ``{"cols": 0}``), sizes may be written as 3.0, extra keys are
ignored, and a one-value point may be a bare number instead of a one-element list (FluCoMa's
reader allows it; Max's dict writes it so). LabelSet labels written as numbers are read as their
text. Anything else odd raises ValueError naming the problem.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .checks import (as_matrix, as_vector, check_id, check_unique_ids, describe_ids, field, from_json,
                     json_int, json_label, json_vector, positive_int)
from .jsonio import load_as, save_json


class UnknownIdError(ValueError, KeyError):
    """An id is not in the set (a ValueError as the house rules ask, and a KeyError as dicts raise)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataSet:
    """Points with string ids, each exactly ``cols`` finite float64 values.

    ``cols`` 0 is FluCoMa's cleared DataSet: its width is not known yet, and the first point
    added (or merged) sets it, as FluCoMa's ``addPoint`` does on an empty set.
    """

    def __init__(self, cols: int):
        self._cols = positive_int(cols, "cols", minimum=0)
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._data = np.empty((0, self._cols))  # grown by doubling; rows >= len(self) unused

    # --- points -------------------------------------------------------------------------------
    @property
    def cols(self) -> int:
        return self._cols

    @property
    def ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, point_id: object) -> bool:
        return point_id in self._row

    def __repr__(self) -> str:
        return f"DataSet(cols={self._cols}, points={len(self)})"

    def add_point(self, point_id: str, vec: Iterable[float]) -> None:
        """Add a new point; an id already present is an error (use ``update_point``/``set_point``)."""
        check_id(point_id)
        width = None if self._cols == 0 and not self._ids else self._cols  # 0: the first point decides
        v = as_vector(vec, width, f"point {point_id!r}")
        if point_id in self._row:
            raise ValueError(f"id {point_id!r} is already in the DataSet: use update_point or set_point")
        if width is None:
            self._cols, self._data = v.shape[0], np.empty((0, v.shape[0]))
        n = len(self._ids)
        if n == self._data.shape[0]:
            grown = np.empty((max(16, 2 * n), self._cols))
            grown[:n] = self._data[:n]
            self._data = grown
        self._data[n] = v
        self._ids.append(point_id)
        self._row[point_id] = n

    def update_point(self, point_id: str, vec: Iterable[float]) -> None:
        """Replace an existing point's values."""
        row = self._existing_row(point_id)
        self._data[row] = as_vector(vec, self._cols, f"point {point_id!r}")

    def set_point(self, point_id: str, vec: Iterable[float]) -> None:
        """Add the point, or update it if the id exists."""
        if check_id(point_id) in self._row:
            self.update_point(point_id, vec)
        else:
            self.add_point(point_id, vec)

    def delete_point(self, point_id: str) -> None:
        row = self._existing_row(point_id)
        n = len(self._ids)
        self._data[row:n - 1] = self._data[row + 1:n]
        del self._ids[row]
        del self._row[point_id]
        for i in range(row, n - 1):
            self._row[self._ids[i]] = i

    def get_point(self, point_id: str) -> np.ndarray:
        """A copy of the point's values."""
        return self._data[self._existing_row(point_id)].copy()

    def clear(self) -> None:
        self._ids, self._row = [], {}

    def _existing_row(self, point_id: str) -> int:
        check_id(point_id)
        try:
            return self._row[point_id]
        except KeyError:
            raise UnknownIdError(f"id {point_id!r} is not in the DataSet ({len(self)} points): "
                            "add it first with add_point or set_point") from None

    # --- bulk -----------------------------------------------------------------------------------
    def to_numpy(self) -> tuple[list[str], np.ndarray]:
        """(ids, matrix) in insertion order; the matrix is a copy of shape (len, cols)."""
        return list(self._ids), self._data[:len(self._ids)].copy()

    @classmethod
    def from_numpy(cls, ids: Iterable[str], matrix: Any) -> "DataSet":
        """A DataSet from ids and a (len(ids), cols) matrix of finite values."""
        ids = check_unique_ids(ids)
        m = as_matrix(matrix, "matrix")
        if m.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but the matrix has {m.shape[0]} rows: give one id per row")
        if m.shape[1] < 1:
            raise ValueError("the matrix has no columns: a DataSet needs at least one column")
        ds = cls(m.shape[1])
        ds._ids = ids
        ds._row = {i: r for r, i in enumerate(ids)}
        ds._data = m
        return ds

    def merge(self, other: "DataSet", overwrite: bool = False) -> None:
        """Add ``other``'s points; ids present in both keep this set's values unless ``overwrite``."""
        if not isinstance(other, DataSet):
            raise ValueError(f"merge needs a DataSet, got {type(other).__name__}")
        if self._cols == 0 and not self._ids:  # width not known yet: take the other's
            self._cols, self._data = other.cols, np.empty((0, other.cols))
        if other.cols != self._cols:
            raise ValueError(f"cannot merge a DataSet of {other.cols} columns into one of {self._cols}: "
                             "the widths must match")
        for point_id, row in zip(*other.to_numpy()):
            if point_id not in self._row:
                self.add_point(point_id, row)
            elif overwrite:
                self.update_point(point_id, row)

    def copy(self) -> "DataSet":
        return DataSet.from_numpy(*self.to_numpy()) if len(self) else DataSet(self._cols)

    # --- JSON -----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        data = self._data[:len(self._ids)].tolist()
        return {"cols": self._cols, "data": dict(zip(self._ids, data))}

    @classmethod
    @from_json("DataSet JSON")
    def from_dict(cls, d: Mapping) -> "DataSet":
        cols = json_int(field(d, "cols", "DataSet JSON"), "DataSet JSON 'cols'")
        data = _points(d, "DataSet JSON")
        if not data:
            return cls(cols)
        if cols == 0:
            raise ValueError(f"DataSet JSON says cols 0 but holds {len(data)} points: the file is damaged")
        ids = check_unique_ids(list(data))
        # each point checked before anything of size points x cols is allocated (a damaged "cols")
        rows = [json_vector(values, cols, f"DataSet JSON point {point_id!r} (cols is {cols})")
                for point_id, values in data.items()]
        return cls.from_numpy(ids, np.array(rows).reshape(len(ids), cols))

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "DataSet":
        return load_as(cls.from_dict, path)


class LabelSet:
    """Points with string ids, each carrying one string label (FluCoMa's LabelSet, ``cols`` = 1)."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}

    cols = 1

    @property
    def ids(self) -> list[str]:
        return list(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __contains__(self, point_id: object) -> bool:
        return point_id in self._labels

    def __repr__(self) -> str:
        return f"LabelSet(points={len(self)}, classes={self.classes()[:8]})"

    def add_label(self, point_id: str, label: str) -> None:
        check_id(point_id)
        _check_label(label, point_id)
        if point_id in self._labels:
            raise ValueError(f"id {point_id!r} is already in the LabelSet: use update_label or set_label")
        self._labels[point_id] = label

    def update_label(self, point_id: str, label: str) -> None:
        self._existing(point_id)
        self._labels[point_id] = _check_label(label, point_id)

    def set_label(self, point_id: str, label: str) -> None:
        check_id(point_id)
        self._labels[point_id] = _check_label(label, point_id)

    def delete_label(self, point_id: str) -> None:
        self._existing(point_id)
        del self._labels[point_id]

    def get_label(self, point_id: str) -> str:
        return self._labels[self._existing(point_id)]

    def clear(self) -> None:
        self._labels = {}

    def classes(self) -> list[str]:
        """Distinct labels in order of first appearance."""
        return list(dict.fromkeys(self._labels.values()))

    def items(self) -> list[tuple[str, str]]:
        return list(self._labels.items())

    def _existing(self, point_id: str) -> str:
        check_id(point_id)
        if point_id not in self._labels:
            raise UnknownIdError(f"id {point_id!r} is not in the LabelSet ({len(self)} labels): "
                            "add it first with add_label or set_label")
        return point_id

    def copy(self) -> "LabelSet":
        ls = LabelSet()
        ls._labels = dict(self._labels)
        return ls

    def to_dict(self) -> dict:
        return {"cols": 1, "data": {i: [label] for i, label in self._labels.items()}}

    @classmethod
    @from_json("LabelSet JSON")
    def from_dict(cls, d: Mapping) -> "LabelSet":
        cols = json_int(field(d, "cols", "LabelSet JSON"), "LabelSet JSON 'cols'")
        data = _points(d, "LabelSet JSON")
        if cols != 1 and (data or cols != 0):  # 0 only as an empty set's unknown width
            raise ValueError(f"LabelSet JSON must have cols 1, got {cols!r}: is this a DataSet file?")
        ls = cls()
        for point_id, value in data.items():
            what = f"LabelSet JSON point {point_id!r}"
            if isinstance(value, list):
                if len(value) != 1:
                    raise ValueError(f"{what} must be a list holding one label, got {len(value)} values")
                value = value[0]
            ls.add_label(check_id(point_id), json_label(value, f"{what}'s label"))
        return ls

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LabelSet":
        return load_as(cls.from_dict, path)


def _check_label(label: object, point_id: str) -> str:
    if not isinstance(label, str) or not label:
        raise ValueError(f"label for {point_id!r} must be a non-empty string, got {label!r}")
    return label


def _points(d: Mapping, what: str) -> Mapping:
    """The "data" object of a DataSet/LabelSet file; FluCoMa writes an empty set without one."""
    field(d, "cols", what)
    data = d.get("data")
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{what} 'data' must be an object mapping ids to lists of values, "
                         f"got {type(data).__name__}")
    return data


def check_targets(targets: object, kind: type, learner: str) -> None:
    """A learner's targets: the right container, not empty, and (labels) at least two classes."""
    if not isinstance(targets, kind):
        raise ValueError(f"{learner} learns from a {kind.__name__}, got {type(targets).__name__}")
    if len(targets) == 0:
        raise ValueError(f"the {kind.__name__} of targets is empty: add points before fitting")
    if isinstance(targets, LabelSet) and len(targets.classes()) < 2:
        raise ValueError(f"every point has the label {targets.classes()[0]!r}: a classifier needs at "
                         "least two classes, so add examples of another sound")


def paired(inputs: DataSet, targets: "DataSet | LabelSet") -> tuple[list[str], np.ndarray]:
    """(ids, input matrix) for fitting; inputs and targets must hold exactly the same ids."""
    if not isinstance(inputs, DataSet):
        raise ValueError(f"inputs must be a DataSet, got {type(inputs).__name__}")
    if len(inputs) == 0:
        raise ValueError("inputs is an empty DataSet: add points before fitting")
    missing = [i for i in inputs.ids if i not in targets]
    extra = [i for i in targets.ids if i not in inputs]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} input id(s) have no target: {describe_ids(missing)}")
        if extra:
            parts.append(f"{len(extra)} target id(s) have no input: {describe_ids(extra)}")
        raise ValueError("inputs and targets must hold the same ids; " + "; ".join(parts))
    return inputs.to_numpy()
