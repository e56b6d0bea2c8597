"""KNNClassifier / KNNRegressor: exact neighbours (tree and scan), FluCoMa weights and KDTree JSON."""
import json

import numpy as np
import pytest

from model import DataSet, LabelSet, NotFittedError
from model import knn_kernels as K
from model.knn import KNNClassifier, KNNRegressor


def sets(X, labels=None, targets=None):
    ids = [f"p{i}" for i in range(len(X))]
    ds = DataSet.from_numpy(ids, X)
    if labels is not None:
        ls = LabelSet()
        for i, lab in zip(ids, labels):
            ls.add_label(i, str(lab))
        return ds, ls
    return ds, DataSet.from_numpy(ids, targets)


def check_kd_invariant(data, tree):
    """Every node of a left subtree is < its splitting node in the split dimension, right >=."""
    def points(node):
        if node == -1:
            return []
        return [node] + points(tree[node][0]) + points(tree[node][1])

    def walk(node, depth):
        if node == -1:
            return
        d = depth % data.shape[1]
        assert all(data[m, d] <= data[node, d] for m in points(tree[node][0]))
        assert all(data[m, d] >= data[node, d] for m in points(tree[node][1]))
        walk(tree[node][0], depth + 1)
        walk(tree[node][1], depth + 1)
    walk(0, 0)
    assert sorted(points(0)) == list(range(len(data)))  # pre-order numbering covers every node


@pytest.mark.parametrize("dims, clustered", [(2, False), (3, True), (13, False), (13, True)])
def test_neighbours_are_exact_with_tree_and_scan(dims, clustered):
    rng = np.random.default_rng(dims)
    if clustered:
        centres = rng.normal(size=(8, dims)) * 5
        X = centres[rng.integers(0, 8, 1500)] + rng.normal(size=(1500, dims)) * 0.3
    else:
        X = rng.normal(size=(1500, dims))
    X[7] = X[3]  # a duplicate point
    order, tree = K.build_tree(X)
    data = X[order]
    check_kd_invariant(data, tree.tolist())
    depth = K.tree_depth(tree)
    assert 0 < depth <= np.ceil(np.log2(len(X) + 1))
    k = 5
    bd, bn = np.empty(k), np.empty(k, dtype=np.int64)
    bd2, bn2 = np.empty(k), np.empty(k, dtype=np.int64)
    stack_n, stack_b = np.empty((depth + 2, 2), dtype=np.int64), np.empty(depth + 2)
    data_t, scan = np.ascontiguousarray(data.T), np.empty(len(X))
    queries = np.vstack([rng.normal(size=(100, dims)) * X.std(0) + X.mean(0), X[:20]])
    for q in queries:
        truth = np.sort(((data - q) ** 2).sum(1))[:k]
        found, visited = K.k_nearest(data, tree, q, k, bd, bn, stack_n, stack_b)
        assert found == k and 1 <= visited <= len(X)
        assert np.allclose(bd, truth, rtol=1e-12, atol=1e-12)
        assert np.allclose(((data[bn] - q) ** 2).sum(1), bd)
        assert K.k_nearest_brute(data_t, q, k, bd2, bn2, scan) == k
        assert np.allclose(bd2, truth, rtol=1e-12, atol=1e-12)
    bad = queries[0].copy()
    bad[-1] = np.nan
    assert K.k_nearest(data, tree, bad, k, bd, bn, stack_n, stack_b)[0] == -1
    assert K.k_nearest_brute(data_t, bad, k, bd2, bn2, scan) == -1


def test_search_choice_follows_the_data():
    rng = np.random.default_rng(0)
    low = KNNClassifier().fit(*sets(rng.normal(size=(3000, 2)), labels=rng.integers(0, 2, 3000)))
    spread = KNNClassifier().fit(*sets(rng.normal(size=(3000, 16)), labels=rng.integers(0, 2, 3000)))
    assert low.uses_tree and not spread.uses_tree


@pytest.mark.parametrize("dims", [2, 13])
@pytest.mark.parametrize("weight", [True, False])
def test_classifier_agrees_with_scikit_learn(dims, weight):
    from sklearn.neighbors import KNeighborsClassifier
    rng = np.random.default_rng(dims)
    X = rng.normal(size=(2000, dims))
    y = (X[:, 0] + 0.5 * rng.normal(size=2000) > 0).astype(int)
    knn = KNNClassifier(num_neighbours=5, weight=weight).fit(*sets(X, labels=y))
    sk = KNeighborsClassifier(5, weights="distance" if weight else "uniform").fit(X, y)
    Q = rng.normal(size=(200, dims))
    ours = [knn.predict_point(q) for q in Q]
    assert ours == [str(v) for v in sk.predict(Q)]
    proba = knn.predict_proba_point(Q[0])
    expected = sk.predict_proba(Q[:1])[0]
    assert np.allclose([proba["0"], proba["1"]], expected)


def test_weights_exact_match_and_ties_to_nearest():
    X = np.array([[0.0], [1.0], [3.0], [10.0]])
    ds, ls = sets(X, labels=["a", "b", "b", "c"])
    knn = KNNClassifier(num_neighbours=3).fit(ds, ls)
    assert knn.predict_proba_point([1.0]) == {"a": 0.0, "b": 1.0, "c": 0.0}  # a stored point wins alone
    w = np.array([1 / 1.9, 1 / 1.1, 1 / 0.9])  # query 1.9: neighbours 1.0, 3.0 and 0.0
    p = knn.predict_proba_point([1.9])
    assert np.isclose(p["a"], w[0] / w.sum()) and np.isclose(p["b"], (w[1] + w[2]) / w.sum())
    uniform = KNNClassifier(num_neighbours=2, weight=False).fit(ds, ls)
    assert uniform.predict_point([0.4]) == "a"  # a (0.4 away) and b (0.6 away) tie: nearest wins
    assert uniform.predict_point([0.6]) == "b"
    wide = KNNClassifier(num_neighbours=10, weight=False).fit(ds, ls)  # k beyond the data: all 4 vote
    assert wide.predict_proba_point([0.0]) == {"a": 0.25, "b": 0.5, "c": 0.25}


def test_regressor_weighted_mean():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    T = np.column_stack([X.sum(1), X[:, 0] ** 2])
    knn = KNNRegressor(num_neighbours=4).fit(*sets(X, targets=T))
    q = rng.normal(size=3)
    d = np.sqrt(((X - q) ** 2).sum(1))
    near = np.argsort(d)[:4]
    w = 1 / d[near]
    assert np.allclose(knn.predict_point(q), (w[:, None] * T[near]).sum(0) / w.sum())
    assert np.allclose(knn.predict_point(X[5]), T[5])
    knn.weight = False
    assert np.allclose(knn.predict_point(q), T[near].mean(0))
    pred = knn.predict(DataSet.from_numpy(["q"], q[None]))
    assert np.allclose(pred.get_point("q"), T[near].mean(0))


def test_json_round_trips(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    ds, ls = sets(X, labels=rng.integers(0, 3, 50))
    knn = KNNClassifier(num_neighbours=4).fit(ds, ls)
    d = knn.to_dict()
    assert sorted(d) == ["labels", "tree"] and sorted(d["tree"]) == ["cols", "data", "ids", "rows", "tree"]
    assert d["labels"] == ls.to_dict() and d["tree"]["rows"] == 50 and d["tree"]["cols"] == 3
    check_kd_invariant(np.array(d["tree"]["data"]), d["tree"]["tree"])
    knn.save(tmp_path / "knn.json")
    again = KNNClassifier.load(tmp_path / "knn.json")
    again.num_neighbours = 4
    assert again.to_dict() == d
    Q = rng.normal(size=(20, 3))
    assert [again.predict_proba_point(q) for q in Q] == [knn.predict_proba_point(q) for q in Q]
    _, targets = sets(X, targets=X[:, :2] * 2)
    reg = KNNRegressor().fit(ds, targets)
    rd = reg.to_dict()
    assert sorted(rd) == ["target", "tree"] and rd["target"] == targets.to_dict()
    reg.save(tmp_path / "reg.json")
    assert np.array_equal(KNNRegressor.load(tmp_path / "reg.json").predict_point(Q[0]), reg.predict_point(Q[0]))


def test_loads_an_unbalanced_flucoma_tree():
    # FluCoMa's addNode appends points down the tree, so dumps need not be balanced
    tree = {"cols": 1, "rows": 4, "ids": ["a", "b", "c", "d"], "data": [[5.0], [1.0], [0.0], [9.0]],
            "tree": [[1, 3], [2, -1], [-1, -1], [-1, -1]]}
    labels = {"cols": 1, "data": {"a": ["x"], "b": ["y"], "c": ["y"], "d": ["x"]}}
    knn = KNNClassifier.from_dict(json.loads(json.dumps({"labels": labels, "tree": tree})), num_neighbours=1)
    assert [knn.predict_point([v]) for v in [-3.0, 0.9, 4.0, 8.0]] == ["y", "y", "x", "x"]


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d["tree"]["tree"].__setitem__(2, [0, -1]), "not a tree"),
    (lambda d: d["tree"]["tree"].__setitem__(2, [9, -1]), "pairs"),
    (lambda d: d["tree"]["ids"].__setitem__(0, "zz"), "ids differ"),
    (lambda d: d["tree"]["ids"].__setitem__(0, d["tree"]["ids"][1]), "duplicate"),
    (lambda d: d["tree"]["data"].pop(), "hold 5 points"),
    (lambda d: d["tree"]["data"][0].append(1.0), "2 values"),
    (lambda d: d["tree"].pop("rows"), "'rows'"),
    (lambda d: d.pop("labels"), "'labels'"),
])
def test_malformed_dumps(mutate, match):
    ds, ls = sets(np.arange(10.0).reshape(5, 2), labels="aabbb")
    d = json.loads(json.dumps(KNNClassifier().fit(ds, ls).to_dict()))
    mutate(d)
    with pytest.raises(ValueError, match=match):
        KNNClassifier.from_dict(d)


def test_bad_input_leaves_model_unchanged():
    ds, ls = sets(np.arange(10.0).reshape(5, 2), labels="aabbb")
    knn = KNNClassifier()
    with pytest.raises(NotFittedError, match="fit"):
        knn.predict_point([0.0, 0.0])
    with pytest.raises(NotFittedError):
        knn.to_dict()
    knn.fit(ds, ls)
    before = knn.to_dict()
    one = LabelSet()
    for i in ds.ids:
        one.add_label(i, "a")
    missing = ls.copy()
    missing.delete_label("p2")
    for call, match in [
        (lambda: knn.predict_point([0.0]), "2 values"),
        (lambda: knn.predict_point(np.array([0.0, np.nan])), "NaN"),
        (lambda: knn.predict(DataSet.from_numpy(["x"], [[1.0, 2.0, 3.0]])), "2 columns"),
        (lambda: knn.fit(ds, one), "two classes"),
        (lambda: knn.fit(ds, missing), "'p2'"),
        (lambda: knn.fit(DataSet(2), ls), "same ids|empty"),
        (lambda: knn.fit(ds, ds), "LabelSet"),
        (lambda: setattr(knn, "weight", "yes"), "weight"),
        (lambda: setattr(knn, "num_neighbours", 0), "num_neighbours"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    assert knn.to_dict() == before and knn.num_neighbours == 3
    with pytest.raises(NotFittedError):
        KNNRegressor().predict_point([1.0])
