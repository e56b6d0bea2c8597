"""FluCoMa's KNNClassifier and KNNRegressor: exact Euclidean k nearest neighbours.

The neighbours live in FluCoMa's kd-tree (median splits, dumped with FluCoMa's KDTree keys
``cols, data, ids, rows, tree``). Measured choice of search (benchmarks/bench_model.py): the tree
wins by far on low-dimensional or clustered data (audio features from a few instruments), while on
data that fill 10+ dimensions evenly it visits most nodes and a vectorised scan of every point is
about 5x faster. ``fit`` therefore counts the nodes a few sample queries visit and picks whichever
is cheaper by the cost model below; both give the same exact neighbours.

Weights follow FluCoMa: uniform, or inverse distance; a neighbour closer than 1e-10 (the query is
a stored point) takes all the weight. The classifier's vote goes to the class with the most weight,
a tie to the class of the nearest neighbour. The regressor returns the weighted mean of the
neighbours' targets (FluCoMa divides that by k once more; we do not).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from . import knn_kernels as K
from .checks import as_vector, check_unique_ids, field, not_fitted, positive_int
from .dataset import DataSet, LabelSet, check_targets, paired
from .jsonio import load_as, save_json

# Cost model (ns, measured on the development machine): a tree node visit vs one point of the scan.
TREE_NS_PER_VISIT = 15.0
SCAN_NS_PER_POINT = 0.5
SCAN_NS_PER_POINT_PER_COL = 0.14
SAMPLE_QUERIES = 32


class _KNN:
    _fit_hint = ""

    def __init__(self, num_neighbours: int = 3, weight: bool = True):
        self.num_neighbours = num_neighbours
        self.weight = weight
        self._ids: list[str] = []
        self._data = np.empty((0, 1))
        self._fitted = False

    @property
    def num_neighbours(self) -> int:
        return self._k

    @num_neighbours.setter
    def num_neighbours(self, value: int) -> None:
        self._k = positive_int(value, "num_neighbours")
        self._best_d2 = np.empty(self._k)
        self._best_n = np.empty(self._k, dtype=np.int64)
        self._weights = np.empty(self._k)

    @property
    def weight(self) -> bool:
        return self._weight

    @weight.setter
    def weight(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"weight must be True (inverse-distance) or False (uniform), got {value!r}")
        self._weight = bool(value)

    @property
    def fitted(self) -> bool:
        return self._fitted

    @property
    def uses_tree(self) -> bool:
        """True if queries descend the kd-tree, False if they scan every point (see module doc)."""
        return self._use_tree

    @property
    def n_inputs(self) -> int | None:
        return self._data.shape[1] if self._fitted else None

    def __len__(self) -> int:
        return len(self._ids)

    # --- index ----------------------------------------------------------------------------------
    def _adopt_tree(self, ids: list[str], data: np.ndarray, tree: np.ndarray) -> None:
        """Take a tree in FluCoMa's flat pre-order layout and get ready to query it."""
        depth = K.tree_depth(tree)
        if depth < 0:
            raise ValueError("KDTree JSON 'tree' is not a tree rooted at node 0 that reaches every "
                             "node once: the file is damaged")
        self._ids, self._data, self._tree = ids, np.ascontiguousarray(data), tree
        self._data_t = np.ascontiguousarray(data.T)
        self._stack_n = np.empty((depth + 2, 2), dtype=np.int64)
        self._stack_b = np.empty(depth + 2)
        self._scan = np.empty(len(ids))
        self._use_tree = self._tree_is_cheaper()

    def _tree_is_cheaper(self) -> bool:
        n, cols = self._data.shape
        picks = np.random.default_rng(0).choice(n, size=min(SAMPLE_QUERIES, n), replace=False)
        visits = np.mean([K.k_nearest(self._data, self._tree, self._data[i], self._k, self._best_d2,
                                      self._best_n, self._stack_n, self._stack_b)[1] for i in picks])
        return visits * TREE_NS_PER_VISIT < n * (SCAN_NS_PER_POINT + SCAN_NS_PER_POINT_PER_COL * cols)

    def _neighbours(self, vec: object) -> int:
        """Find the neighbours of one point into the buffers; returns how many."""
        if not self._fitted:
            raise not_fitted(self, self._fit_hint)
        x = vec if (isinstance(vec, np.ndarray) and vec.dtype == np.float64 and vec.ndim == 1
                    and vec.shape[0] == self._data.shape[1] and np.isfinite(vec).all()) \
            else as_vector(vec, self._data.shape[1], "point")
        if self._use_tree:
            return K.k_nearest(self._data, self._tree, x, self._k, self._best_d2, self._best_n,
                               self._stack_n, self._stack_b)[0]
        return K.k_nearest_brute(self._data_t, x, self._k, self._best_d2, self._best_n, self._scan)

    def _fit_index(self, ids: list[str], X: np.ndarray) -> np.ndarray:
        """Build the tree; returns the node order (node n holds input row order[n])."""
        order, tree = K.build_tree(X)
        self._adopt_tree([ids[i] for i in order], X[order], tree)
        return order

    def _rows(self, dataset: DataSet) -> tuple[list[str], np.ndarray]:
        if not self._fitted:
            raise not_fitted(self, self._fit_hint)
        if not isinstance(dataset, DataSet):
            raise ValueError(f"predict needs a DataSet, got {type(dataset).__name__}")
        if dataset.cols != self._data.shape[1]:
            raise ValueError(f"the model was fitted on {self._data.shape[1]} columns but the DataSet has "
                             f"{dataset.cols}: transform it like the training data")
        return dataset.to_numpy()

    # --- JSON -----------------------------------------------------------------------------------
    def _tree_dict(self) -> dict:
        return {"cols": int(self._data.shape[1]), "data": self._data.tolist(), "ids": list(self._ids),
                "rows": len(self._ids), "tree": self._tree.tolist()}

    @staticmethod
    def _parse_tree(d: object) -> tuple[list[str], np.ndarray, np.ndarray]:
        what = "KDTree JSON"
        rows = positive_int(field(d, "rows", what), f"{what} 'rows'")
        cols = positive_int(field(d, "cols", what), f"{what} 'cols'")
        data = field(d, "data", what)
        if not (isinstance(data, list) and len(data) == rows):
            raise ValueError(f"{what} 'data' must hold {rows} points (its 'rows')")
        matrix = np.array([as_vector(p, cols, f"{what} point") for p in data]).reshape(rows, cols)
        ids = field(d, "ids", what)
        if not (isinstance(ids, list) and len(ids) == rows):
            raise ValueError(f"{what} 'ids' must hold {rows} ids (its 'rows')")
        ids = check_unique_ids(ids)
        tree = field(d, "tree", what)
        ok = isinstance(tree, list) and len(tree) == rows and all(
            isinstance(t, list) and len(t) == 2 and all(isinstance(c, int) and not isinstance(c, bool)
                                                        and -1 <= c < rows for c in t) for t in tree)
        if not ok:
            raise ValueError(f"{what} 'tree' must hold {rows} [left, right] pairs of node numbers or -1")
        return ids, matrix, np.array(tree, dtype=np.int64).reshape(rows, 2)

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike):
        return load_as(cls.from_dict, path)

    def to_dict(self) -> dict:
        raise NotImplementedError


class KNNClassifier(_KNN):
    """Labels a point by a (weighted) vote of its nearest labelled neighbours."""

    _fit_hint = "call fit(inputs, labels)"

    @property
    def classes(self) -> list[str]:
        """Labels in order of first appearance in the fitted LabelSet ([] before fitting)."""
        return list(self._classes) if self._fitted else []

    def fit(self, inputs: DataSet, labels: LabelSet) -> "KNNClassifier":
        check_targets(labels, LabelSet, "KNNClassifier")
        ids, X = paired(inputs, labels)
        self._set(ids, X, None, labels.copy())
        return self

    def _set(self, ids, X, tree, labels: LabelSet) -> None:
        if tree is None:
            self._fit_index(ids, X)
        else:
            self._adopt_tree(ids, X, tree)
        self._labels = labels
        self._classes = labels.classes()
        index = {c: k for k, c in enumerate(self._classes)}
        self._codes = np.array([index[labels.get_label(i)] for i in self._ids], dtype=np.int64)
        self._scores = np.empty(len(self._classes))
        self._fitted = True

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> str:
        found = self._neighbours(vec)
        return self._classes[K.vote(self._best_d2, self._best_n, found, self._weight, self._codes,
                                    self._weights, self._scores)]

    def predict_proba_point(self, vec: Sequence[float] | np.ndarray) -> dict[str, float]:
        """{label: share of the neighbours' weight} for every class (summing to 1)."""
        found = self._neighbours(vec)
        K.vote(self._best_d2, self._best_n, found, self._weight, self._codes, self._weights, self._scores)
        return dict(zip(self._classes, self._scores.tolist()))

    def predict(self, dataset: DataSet) -> LabelSet:
        ids, m = self._rows(dataset)
        out = LabelSet()
        for i, x in zip(ids, m):
            out.add_label(i, self.predict_point(x))
        return out

    def to_dict(self) -> dict:
        if not self._fitted:
            raise not_fitted(self, "call fit(inputs, labels) before saving")
        return {"labels": self._labels.to_dict(), "tree": self._tree_dict()}

    @classmethod
    def from_dict(cls, d: Mapping, num_neighbours: int = 3, weight: bool = True) -> "KNNClassifier":
        ids, data, tree = cls._parse_tree(field(d, "tree", "KNNClassifier JSON"))
        labels = LabelSet.from_dict(field(d, "labels", "KNNClassifier JSON"))
        _same_ids(ids, labels)
        check_targets(labels, LabelSet, "KNNClassifier")
        knn = cls(num_neighbours, weight)
        knn._set(ids, data, tree, labels)
        return knn


class KNNRegressor(_KNN):
    """Predicts a point as the (weighted) mean of its nearest neighbours' targets."""

    _fit_hint = "call fit(inputs, targets)"

    def fit(self, inputs: DataSet, targets: DataSet) -> "KNNRegressor":
        check_targets(targets, DataSet, "KNNRegressor")
        ids, X = paired(inputs, targets)
        self._set(ids, X, None, targets.copy())
        return self

    def _set(self, ids, X, tree, targets: DataSet) -> None:
        if tree is None:
            self._fit_index(ids, X)
        else:
            self._adopt_tree(ids, X, tree)
        self._target_set = targets
        self._targets = np.array([targets.get_point(i) for i in self._ids]).reshape(len(self._ids), targets.cols)
        self._fitted = True

    @property
    def n_outputs(self) -> int | None:
        return self._targets.shape[1] if self._fitted else None

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> np.ndarray:
        found = self._neighbours(vec)
        out = np.empty(self._targets.shape[1])
        K.average(self._best_d2, self._best_n, found, self._weight, self._targets, self._weights, out)
        return out

    def predict(self, dataset: DataSet) -> DataSet:
        ids, m = self._rows(dataset)
        if not ids:
            return DataSet(self._targets.shape[1])
        return DataSet.from_numpy(ids, np.array([self.predict_point(x) for x in m]))

    def to_dict(self) -> dict:
        if not self._fitted:
            raise not_fitted(self, "call fit(inputs, targets) before saving")
        return {"target": self._target_set.to_dict(), "tree": self._tree_dict()}

    @classmethod
    def from_dict(cls, d: Mapping, num_neighbours: int = 3, weight: bool = True) -> "KNNRegressor":
        ids, data, tree = cls._parse_tree(field(d, "tree", "KNNRegressor JSON"))
        targets = DataSet.from_dict(field(d, "target", "KNNRegressor JSON"))
        _same_ids(ids, targets)
        knn = cls(num_neighbours, weight)
        knn._set(ids, data, tree, targets)
        return knn


def _same_ids(ids: list[str], targets: "DataSet | LabelSet") -> None:
    if len(targets) != len(ids) or any(i not in targets for i in ids):
        raise ValueError("the tree's ids and the targets' ids differ: the file is damaged or was "
                         "assembled from different sets")
