"""FluCoMa's KNNClassifier and KNNRegressor: exact Euclidean k nearest neighbours.

The neighbours live in FluCoMa's kd-tree (median splits, dumped with FluCoMa's KDTree keys
``cols, data, ids, rows, tree``). Measured choice of search (benchmarks/bench_model.py): the tree
wins by far on low-dimensional or clustered data (audio features from a few instruments), while on
data that fill 10+ dimensions evenly it visits most nodes and a vectorised scan of every point is
about 5x faster. ``fit`` therefore counts the nodes a few sample queries visit and picks whichever
is cheaper by the cost model below; both give the same exact neighbours.

Weights follow FluCoMa (flucoma-core include/algorithms/public/KNNClassifier.hpp, KNNRegressor.hpp):
uniform, or inverse distance normalised to sum 1; a neighbour closer than 1e-10 (the query is a
stored point) takes all the weight (FluCoMa: closer than DBL_EPSILON). The classifier's vote goes
to the class with the most weight, a tie to the class of the nearest neighbour. The regressor
returns the weighted mean of the neighbours' targets, as FluCoMa 1.0 does (early versions divided
once more by k). With fewer points than ``num_neighbours``, all points are the neighbours
(FluCoMa refuses to predict).

JSON: ``{"labels": <LabelSet>, "tree": <KDTree>}`` / ``{"target": <DataSet>, "tree": <KDTree>}``
(KNNClassifierClient.hpp, KNNRegressorClient.hpp); FluCoMa stores neither ``num_neighbours`` nor
``weight``, so ``from_dict``/``load`` take them as arguments.

A model predicts from one thread at a time (it reuses scratch buffers, so a prediction allocates
almost nothing); refitting or changing ``num_neighbours`` meanwhile from another thread is safe,
because each swaps in a complete new set of arrays.
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from . import knn_kernels as K
from .checks import as_vector, check_unique_ids, field, from_json, json_int, json_vector, not_fitted, positive_int
from .dataset import DataSet, LabelSet, check_targets, paired
from .jsonio import load_as, save_json

# Cost model (ns, measured on the development machine): a tree node visit vs one point of the scan.
TREE_NS_PER_VISIT = 15.0
SCAN_NS_PER_POINT = 0.5
SCAN_NS_PER_POINT_PER_COL = 0.14
SAMPLE_QUERIES = 32
_FLOAT64 = np.dtype(np.float64)


class _Index:
    """A fitted model's neighbours and what they answer, swapped in as one object."""

    def __init__(self, ids: list[str], data: np.ndarray, tree: np.ndarray, k: int):
        depth = K.tree_depth(tree)
        if depth < 0:
            raise ValueError("KDTree JSON 'tree' is not a tree rooted at node 0 that reaches every "
                             "node once: the file is damaged")
        self.ids, self.data, self.tree = ids, np.ascontiguousarray(data), tree
        self.data_t = np.ascontiguousarray(data.T)
        self.stack_n = np.empty((depth + 2, 2), dtype=np.int64)
        self.stack_b = np.empty(depth + 2)
        self.scan = np.empty(len(ids))
        self.use_tree = self._tree_is_cheaper(_KBuffers(k))
        self.codes = np.empty(0, dtype=np.int64)  # classifier: class number of each node
        self.classes: tuple[str, ...] = ()
        self.scores = np.empty(0)
        self.targets = np.empty((0, 0))  # regressor: target row of each node
        self.source: DataSet | LabelSet | None = None  # the targets as given, for the JSON

    def _tree_is_cheaper(self, buf: "_KBuffers") -> bool:
        n, cols = self.data.shape
        picks = np.random.default_rng(0).choice(n, size=min(SAMPLE_QUERIES, n), replace=False)
        visits = np.mean([K.k_nearest(self.data, self.tree, self.data[i], buf.k, buf.best_d2, buf.best_n,
                                      self.stack_n, self.stack_b)[1] for i in picks])
        return visits * TREE_NS_PER_VISIT < n * (SCAN_NS_PER_POINT + SCAN_NS_PER_POINT_PER_COL * cols)

    def search(self, x: np.ndarray, buf: "_KBuffers") -> int:
        if self.use_tree:
            return K.k_nearest(self.data, self.tree, x, buf.k, buf.best_d2, buf.best_n,
                               self.stack_n, self.stack_b)[0]
        return K.k_nearest_brute(self.data_t, x, buf.k, buf.best_d2, buf.best_n, self.scan)

    def tree_dict(self) -> dict:
        return {"cols": int(self.data.shape[1]), "data": self.data.tolist(), "ids": list(self.ids),
                "rows": len(self.ids), "tree": self.tree.tolist()}


class _KBuffers:
    """Scratch space for k neighbours; replaced whole when k changes."""

    def __init__(self, k: int):
        self.k = k
        self.best_d2 = np.empty(k)
        self.best_n = np.empty(k, dtype=np.int64)
        self.weights = np.empty(k)


class _KNN:
    _fit_hint = ""

    def __init__(self, num_neighbours: int = 3, weight: bool = True):
        self.num_neighbours = num_neighbours
        self.weight = weight
        self._index: _Index | None = None

    @property
    def num_neighbours(self) -> int:
        return self._buf.k

    @num_neighbours.setter
    def num_neighbours(self, value: int) -> None:
        self._buf = _KBuffers(positive_int(value, "num_neighbours"))

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
        return self._index is not None

    @property
    def uses_tree(self) -> bool:
        """True if queries descend the kd-tree, False if they scan every point (see module doc)."""
        return self._fitted_index().use_tree

    @property
    def n_inputs(self) -> int | None:
        index = self._index
        return None if index is None else index.data.shape[1]

    def __len__(self) -> int:
        index = self._index
        return 0 if index is None else len(index.ids)

    def _fitted_index(self, how: str | None = None) -> _Index:
        index = self._index
        if index is None:
            raise not_fitted(self, how or self._fit_hint)
        return index

    def _neighbours(self, vec: object) -> tuple[_Index, _KBuffers, int]:
        """Find the neighbours of one point; returns (index, buffers holding them, how many)."""
        index, buf = self._fitted_index(), self._buf
        cols = index.data.shape[1]
        # the live path passes float64 vectors: checked cheaply here, finiteness in the kernels
        x = vec if (type(vec) is np.ndarray and vec.dtype is _FLOAT64 and vec.shape == (cols,)) \
            else as_vector(vec, cols, "point")
        found = index.search(x, buf)
        if found < 0:
            as_vector(x, cols, "point")  # raises, naming the non-finite positions
        return index, buf, found

    def _new_index(self, ids: list[str], X: np.ndarray, tree: np.ndarray | None) -> _Index:
        """An index over X (building FluCoMa's kd-tree unless one is given)."""
        if tree is None:
            order, tree = K.build_tree(X)
            ids, X = [ids[i] for i in order], X[order]
        return _Index(ids, X, tree, self._buf.k)

    def _rows(self, dataset: DataSet) -> tuple[list[str], np.ndarray]:
        index = self._fitted_index()
        if not isinstance(dataset, DataSet):
            raise ValueError(f"predict needs a DataSet, got {type(dataset).__name__}")
        if dataset.cols != index.data.shape[1]:
            raise ValueError(f"the model was fitted on {index.data.shape[1]} columns but the DataSet has "
                             f"{dataset.cols}: transform it like the training data")
        return dataset.to_numpy()

    @staticmethod
    def _parse_tree(d: object) -> tuple[list[str], np.ndarray, np.ndarray]:
        """FluCoMa's KDTree dump (flucoma-core include/data/FluidJSON.hpp, to_json for KDTree, and
        KDTree::toFlat): "rows" points of "cols" values in "data", their "ids", and "tree", one
        [left, right] pair of node numbers (-1: none) per node, nodes in pre-order from 0."""
        what = "KDTree JSON"
        rows = json_int(field(d, "rows", what), f"{what} 'rows'")
        if rows == 0:
            raise ValueError(f"{what} holds no points: FluCoMa saves a KNN model like this before it "
                             "is fitted; fit it (there or here) and save it again")
        cols = json_int(field(d, "cols", what), f"{what} 'cols'", minimum=1)
        data = field(d, "data", what)
        if not (isinstance(data, list) and len(data) == rows):
            raise ValueError(f"{what} 'data' must hold {rows} points (its 'rows')")
        # each row checked before anything of size rows x cols is allocated (a damaged "cols")
        matrix = np.array([json_vector(p, cols, f"{what} point {r} (cols is {cols})")
                           for r, p in enumerate(data)]).reshape(rows, cols)
        ids = field(d, "ids", what)
        if rows == 1 and isinstance(ids, (str, int)):
            ids = [ids]  # a Max dict writes a one-element list as its element
        if not (isinstance(ids, list) and len(ids) == rows):
            raise ValueError(f"{what} 'ids' must hold {rows} ids (its 'rows')")
        # ids are strings; a whole number is taken as its text (the targets' keys are strings anyway)
        ids = check_unique_ids([str(i) if isinstance(i, int) and not isinstance(i, bool) else i
                                for i in ids])
        tree = field(d, "tree", what)
        bad = ValueError(f"{what} 'tree' must hold {rows} [left, right] pairs of node numbers or -1")
        if not (isinstance(tree, list) and len(tree) == rows):
            raise bad
        links = np.empty((rows, 2), dtype=np.int64)
        for n, pair in enumerate(tree):
            if not (isinstance(pair, list) and len(pair) == 2):
                raise bad
            for side, c in enumerate(pair):
                try:
                    links[n, side] = json_int(c, "node", minimum=-1)
                except ValueError:
                    raise bad from None
                if links[n, side] >= rows:
                    raise bad
        return ids, matrix, links

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike, num_neighbours: int = 3, weight: bool = True):
        """Load a dump; FluCoMa's do not store num_neighbours or weight, so give them here."""
        return load_as(lambda d: cls.from_dict(d, num_neighbours, weight), path)

    def to_dict(self) -> dict:
        raise NotImplementedError


class KNNClassifier(_KNN):
    """Labels a point by a (weighted) vote of its nearest labelled neighbours."""

    _fit_hint = "call fit(inputs, labels)"

    @property
    def classes(self) -> list[str]:
        """Labels in order of first appearance in the fitted LabelSet ([] before fitting)."""
        index = self._index
        return [] if index is None else list(index.classes)

    def fit(self, inputs: DataSet, labels: LabelSet) -> "KNNClassifier":
        check_targets(labels, LabelSet, "KNNClassifier")
        ids, X = paired(inputs, labels)
        self._index = self._labelled(self._new_index(ids, X, None), labels.copy())
        return self

    @staticmethod
    def _labelled(index: _Index, labels: LabelSet) -> _Index:
        index.source = labels
        index.classes = tuple(labels.classes())
        number = {c: k for k, c in enumerate(index.classes)}
        index.codes = np.array([number[labels.get_label(i)] for i in index.ids], dtype=np.int64)
        index.scores = np.empty(len(index.classes))
        return index

    def _vote(self, vec: object) -> tuple[_Index, int]:
        index, buf, found = self._neighbours(vec)
        return index, K.vote(buf.best_d2, buf.best_n, found, self._weight, index.codes, buf.weights,
                             index.scores)

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> str:
        index, best = self._vote(vec)
        return index.classes[best]

    def predict_proba_point(self, vec: Sequence[float] | np.ndarray) -> dict[str, float]:
        """{label: share of the neighbours' weight} for every class (summing to 1)."""
        index, _ = self._vote(vec)
        return dict(zip(index.classes, index.scores.tolist()))

    def predict(self, dataset: DataSet) -> LabelSet:
        ids, m = self._rows(dataset)
        out = LabelSet()
        for i, x in zip(ids, m):
            out.add_label(i, self.predict_point(x))
        return out

    def to_dict(self) -> dict:
        index = self._fitted_index("call fit(inputs, labels) before saving")
        return {"labels": index.source.to_dict(), "tree": index.tree_dict()}

    @classmethod
    @from_json("KNNClassifier JSON")
    def from_dict(cls, d: Mapping, num_neighbours: int = 3, weight: bool = True) -> "KNNClassifier":
        """A classifier from FluCoMa's dump (which does not store num_neighbours or weight)."""
        ids, data, tree = cls._parse_tree(field(d, "tree", "KNNClassifier JSON"))
        labels = LabelSet.from_dict(field(d, "labels", "KNNClassifier JSON"))
        _same_ids(ids, labels)  # one class is allowed here: FluCoMa fits and saves such models
        knn = cls(num_neighbours, weight)
        knn._index = cls._labelled(knn._new_index(ids, data, tree), labels)
        return knn


class KNNRegressor(_KNN):
    """Predicts a point as the (weighted) mean of its nearest neighbours' targets."""

    _fit_hint = "call fit(inputs, targets)"

    def fit(self, inputs: DataSet, targets: DataSet) -> "KNNRegressor":
        check_targets(targets, DataSet, "KNNRegressor")
        ids, X = paired(inputs, targets)
        self._index = self._targeted(self._new_index(ids, X, None), targets.copy())
        return self

    @staticmethod
    def _targeted(index: _Index, targets: DataSet) -> _Index:
        index.source = targets
        target_ids, T = targets.to_numpy()
        row = {i: r for r, i in enumerate(target_ids)}
        index.targets = T[[row[i] for i in index.ids]]
        return index

    @property
    def n_outputs(self) -> int | None:
        index = self._index
        return None if index is None else index.targets.shape[1]

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> np.ndarray:
        index, buf, found = self._neighbours(vec)
        out = np.empty(index.targets.shape[1])
        K.average(buf.best_d2, buf.best_n, found, self._weight, index.targets, buf.weights, out)
        return out

    def predict(self, dataset: DataSet) -> DataSet:
        ids, m = self._rows(dataset)
        if not ids:
            return DataSet(self._fitted_index().targets.shape[1])
        return DataSet.from_numpy(ids, np.array([self.predict_point(x) for x in m]))

    def to_dict(self) -> dict:
        index = self._fitted_index("call fit(inputs, targets) before saving")
        return {"target": index.source.to_dict(), "tree": index.tree_dict()}

    @classmethod
    @from_json("KNNRegressor JSON")
    def from_dict(cls, d: Mapping, num_neighbours: int = 3, weight: bool = True) -> "KNNRegressor":
        """A regressor from FluCoMa's dump (which does not store num_neighbours or weight)."""
        ids, data, tree = cls._parse_tree(field(d, "tree", "KNNRegressor JSON"))
        targets = DataSet.from_dict(field(d, "target", "KNNRegressor JSON"))
        _same_ids(ids, targets)
        knn = cls(num_neighbours, weight)
        knn._index = cls._targeted(knn._new_index(ids, data, tree), targets)
        return knn


def _same_ids(ids: list[str], targets: "DataSet | LabelSet") -> None:
    if len(targets) != len(ids) or any(i not in targets for i in ids):
        raise ValueError("the tree's ids and the targets' ids differ: the file is damaged or was "
                         "assembled from different sets")
