"""FluCoMa interoperability: hand-written files in the exact layout FluCoMa writes, and damaged ones.

Every layout below is transcribed from flucoma-core's sources (BSD-3, University of Huddersfield):
  * include/data/FluidJSON.hpp: to_json/from_json for FluidDataSet (DataSet and LabelSet), KDTree,
    Normalization, Standardization, RobustScaling, MLP and LabelSetEncoder; JSONFile writes with
    ``dump(2)``, and nlohmann's objects are sorted maps, so keys (and ids) come out sorted;
  * include/algorithms/public/KDTree.hpp: toFlat/flatten (pre-order nodes, [left, right], -1 = none);
  * include/clients/nrt/KNNClassifierClient.hpp {"labels", "tree"}, KNNRegressorClient.hpp
    {"target", "tree"}, MLPClassifierClient.hpp {"labels": {"labels", "rows"}, "mlp"};
  * include/clients/nrt/DataSetClient.hpp: ``clear`` makes DataSet(0), written as {"cols": 0}.
The texts are what FluCoMa would write for these objects, formatted as it formats them.
"""
import json
import math

import numpy as np
import pytest

from model import (DataSet, JSONFileError, KNNClassifier, KNNRegressor, LabelSet, MLPClassifier,
                   MLPRegressor, Normalize, NotFittedError, RobustScale, Standardize)

DATASET = """{
  "cols": 3,
  "data": {
    "0": [
      0.0,
      1.0,
      -2.5
    ],
    "1": [
      0.30000000000000004,
      1e-05,
      12.0
    ],
    "10": [
      -1.0,
      2.0,
      3.0
    ]
  }
}
"""

LABELSET = """{
  "cols": 1,
  "data": {
    "a": [
      "oboe"
    ],
    "b": [
      "flute"
    ],
    "c": [
      "oboe"
    ]
  }
}
"""

NORMALIZE = """{
  "cols": 2,
  "data_max": [
    4.0,
    10.0
  ],
  "data_min": [
    2.0,
    10.0
  ],
  "max": 1.0,
  "min": -1.0
}
"""

STANDARDIZE = """{
  "cols": 2,
  "mean": [
    1.5,
    -3.0
  ],
  "std": [
    0.5,
    1.0
  ]
}
"""

ROBUSTSCALE = """{
  "cols": 2,
  "data_high": [
    3.0,
    5.0
  ],
  "data_low": [
    1.0,
    5.0
  ],
  "high": 75.0,
  "low": 25.0,
  "median": [
    2.0,
    5.0
  ],
  "range": [
    2.0,
    1.0
  ]
}
"""

LAYER_0 = {"activation": 2, "biases": [0.1, -0.2], "cols": 2, "rows": 3,
           "weights": [[0.5, -1.0], [0.25, 0.75], [-0.5, 0.3]]}
LAYER_1 = {"activation": 0, "biases": [0.05], "cols": 1, "rows": 2, "weights": [[1.5], [-2.0]]}
MLP_REGRESSOR = json.dumps({"layers": [LAYER_0, LAYER_1]}, indent=2, sort_keys=True)

CLASSIFIER_OUT = {"activation": 1, "biases": [0.0, 0.1, -0.1], "cols": 3, "rows": 2,
                  "weights": [[1.0, -1.0, 0.2], [-0.5, 0.5, 0.9]]}
MLP_CLASSIFIER = json.dumps({"labels": {"labels": ["kick", "snare", "hat"], "rows": 3},
                             "mlp": {"layers": [LAYER_0, CLASSIFIER_OUT]}}, indent=2, sort_keys=True)

# Five points a..e; FluCoMa's KDTree(dataset) sorts by x, takes c (index 5 // 2) as root, then
# splits [a, b] and [d, e] on y: pre-order c, b, a, e, d.
POINTS = {"a": [0.0, 0.0], "b": [1.0, 5.0], "c": [2.0, 1.0], "d": [3.0, 3.0], "e": [4.0, 4.0]}
KDTREE = {"cols": 2, "data": [[2.0, 1.0], [1.0, 5.0], [0.0, 0.0], [4.0, 4.0], [3.0, 3.0]],
          "ids": ["c", "b", "a", "e", "d"], "rows": 5,
          "tree": [[1, 3], [2, -1], [-1, -1], [4, -1], [-1, -1]]}
KNN_LABELS = {"cols": 1, "data": {"a": ["x"], "b": ["x"], "c": ["y"], "d": ["y"], "e": ["y"]}}
KNN_CLASSIFIER = json.dumps({"labels": KNN_LABELS, "tree": KDTREE}, indent=2, sort_keys=True)
KNN_TARGETS = {"cols": 1, "data": {"a": [0.0], "b": [10.0], "c": [20.0], "d": [30.0], "e": [40.0]}}
KNN_REGRESSOR = json.dumps({"target": KNN_TARGETS, "tree": KDTREE}, indent=2, sort_keys=True)


def written(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def relu(z):
    return np.maximum(z, 0.0)


def mlp_hidden(x):
    return relu(np.array(LAYER_0["weights"]).T @ x + LAYER_0["biases"])


# --- reading what FluCoMa writes ---------------------------------------------------------------------
def test_dataset_as_flucoma_writes_it(tmp_path):
    ds = DataSet.load(written(tmp_path, "ds.json", DATASET))
    assert ds.cols == 3 and ds.ids == ["0", "1", "10"]
    assert ds.get_point("1").tolist() == [0.30000000000000004, 1e-05, 12.0]
    assert ds.to_dict() == json.loads(DATASET)


def test_dataset_variants_flucoma_reads_or_wrote():
    # older FluCoMa versions also wrote "rows"; Max dicts write 3 as 3.0 and a one-value list as
    # its value; integral values may be written without ".0"
    ds = DataSet.from_dict({"cols": 3.0, "rows": 2, "data": {"p": [1, 2, 3], "q": [0.5, -1, 1e300]}})
    assert ds.cols == 3 and isinstance(ds.cols, int) and ds.get_point("q").tolist() == [0.5, -1.0, 1e300]
    one = DataSet.from_dict({"cols": 1, "data": {"p": 0.25, "q": [2]}})
    assert one.to_dict() == {"cols": 1, "data": {"p": [0.25], "q": [2.0]}}


def test_empty_datasets_as_flucoma_writes_them():
    # to_json only writes "data" for points it has: an empty DataSet is {"cols": N}; a cleared one
    # (DataSetClient::clear makes DataSet(0)) is {"cols": 0}
    ds = DataSet.from_dict(json.loads('{\n  "cols": 0\n}\n'))
    assert len(ds) == 0 and ds.cols == 0
    ds.add_point("first", [1.0, 2.0])  # as FluCoMa's addPoint: the first point sets the width
    assert ds.cols == 2 and ds.to_dict() == {"cols": 2, "data": {"first": [1.0, 2.0]}}
    with pytest.raises(ValueError, match="2 values"):
        ds.add_point("second", [1.0])
    assert len(DataSet.from_dict({"cols": 4})) == 0 and DataSet.from_dict({"cols": 4}).cols == 4
    assert DataSet.from_dict({"cols": 4, "data": None}).cols == 4
    merged = DataSet(0)
    merged.merge(DataSet.from_numpy(["a"], [[1.0, 2.0, 3.0]]))
    assert merged.cols == 3 and merged.ids == ["a"]
    # what we write for an empty set also satisfies FluCoMa's reader (check_json wants "data")
    assert DataSet(0).to_dict() == {"cols": 0, "data": {}}
    assert LabelSet.from_dict({"cols": 1}).to_dict() == {"cols": 1, "data": {}}


def test_labelset_as_flucoma_writes_it(tmp_path):
    ls = LabelSet.load(written(tmp_path, "ls.json", LABELSET))
    assert ls.ids == ["a", "b", "c"] and ls.classes() == ["oboe", "flute"]
    assert ls.to_dict() == json.loads(LABELSET)


def test_labels_written_as_numbers_or_bare_values():
    ls = LabelSet.from_dict({"cols": 1.0, "data": {"a": [1], "b": [2.0], "c": 0.5, "d": "oboe", "e": [-3]}})
    assert [ls.get_label(i) for i in "abcde"] == ["1", "2", "0.5", "oboe", "-3"]


@pytest.mark.parametrize("text, cls, x, expected", [
    # Normalization::processFrame: min + (x - data_min) / data_range * (max - min); column 1 has
    # range 0, which counts as 1 (ScalerUtils.hpp handleZerosInScale)
    (NORMALIZE, Normalize, [3.0, 12.0], [-1.0 + 0.5 * 2.0, -1.0 + 2.0 * 2.0]),
    (STANDARDIZE, Standardize, [2.5, -1.0], [2.0, 2.0]),
    (ROBUSTSCALE, RobustScale, [5.0, 7.0], [1.5, 2.0]),
])
def test_scalers_as_flucoma_writes_them(tmp_path, text, cls, x, expected):
    s = cls.load(written(tmp_path, "s.json", text))
    assert s.fitted and s.cols == 2
    assert np.allclose(s.transform_point(x), expected, rtol=0, atol=1e-15)
    assert np.allclose(s.inverse_transform_point(expected), x, rtol=0, atol=1e-12)
    assert s.to_dict() == json.loads(text)


def test_scaler_parameters_from_dumps():
    n = Normalize.from_dict(json.loads(NORMALIZE))
    assert (n.min, n.max) == (-1.0, 1.0)
    r = RobustScale.from_dict({**json.loads(ROBUSTSCALE), "low": 10, "high": 90.0})
    assert (r.low, r.high) == (10.0, 90.0)


def test_zero_spreads_count_as_one_as_in_flucoma():
    # a std of 0 in a file, or min == max: FluCoMa substitutes 1 when loading too
    s = Standardize.from_dict({"cols": 1, "mean": [2.0], "std": [0.0]})
    assert s.transform_point([5.0]).tolist() == [3.0]
    n = Normalize.from_dict({"cols": 1, "data_min": [0.0], "data_max": [4.0], "min": 1.0, "max": 1.0})
    assert n.transform_point([2.0]).tolist() == [1.5]  # FluCoMa maps onto [1, 2], not onto 1
    ds = DataSet.from_numpy(["a", "b"], [[7.0, 1.0], [7.0, 3.0]])
    assert Standardize().fit(ds).to_dict()["std"] == [1.0, 1.0]  # FluCoMa dumps the substituted std


def test_robust_scale_fits_flucoma_nearest_rank_percentiles():
    # RobustScaling::init: sorted(lrint(p * (n - 1))); n = 4: median rank lrint(1.5) = 2,
    # low rank lrint(0.75) = 1, high rank lrint(2.25) = 2 (no interpolation)
    ds = DataSet.from_numpy(list("abcd"), [[40.0], [10.0], [30.0], [20.0]])
    d = RobustScale().fit(ds).to_dict()
    assert (d["median"], d["data_low"], d["data_high"], d["range"]) == ([30.0], [20.0], [30.0], [10.0])


def test_robust_scale_dump_with_low_above_high():
    # FluCoMa limits each percentile to 0..100 but not their order; the negative range counts as 1
    d = {"cols": 1, "data_high": [1.0], "data_low": [3.0], "high": 20.0, "low": 80.0, "median": [2.0],
         "range": [-2.0]}
    r = RobustScale.from_dict(d)
    assert (r.low, r.high) == (80.0, 20.0) and r.transform_point([5.0]).tolist() == [3.0]
    assert r.to_dict() == d


def test_unfitted_scaler_dumps_load_unfitted():
    # FluCoMa's write before fit: dims() is 0 and the stats are empty
    n = Normalize.from_dict({"cols": 0, "data_max": [], "data_min": [], "max": 2.0, "min": 1.0})
    assert not n.fitted and (n.min, n.max) == (1.0, 2.0)
    with pytest.raises(NotFittedError):
        n.transform_point([1.0])
    assert not Standardize.from_dict({"cols": 0, "mean": [], "std": []}).fitted


def test_mlp_regressor_as_flucoma_writes_it(tmp_path):
    m = MLPRegressor.load(written(tmp_path, "mlp.json", MLP_REGRESSOR))
    assert m.trained and m.hidden_layers == [2] and m.activation == "relu"
    assert m.output_activation == "identity" and m.n_inputs == 3 and m.n_outputs == 1
    x = np.array([0.3, -1.2, 2.0])
    expected = np.array(LAYER_1["weights"]).T @ mlp_hidden(x) + LAYER_1["biases"]
    assert np.allclose(m.predict_point(x), expected, rtol=1e-14, atol=0)
    assert m.to_dict() == json.loads(MLP_REGRESSOR)


def test_mlp_variants_flucoma_reads():
    d = json.loads(MLP_REGRESSOR)
    d["layers"][0].update(activation=2.0, rows=3.0, cols=2.0)
    d["layers"][1].update(weights=[1.5, -2.0], biases=0.05)  # one-column rows as bare numbers
    d["layers"][1]["extra"] = "ignored"
    d["outputActivation"] = 0
    m = MLPRegressor.from_dict(d)
    assert m.to_dict() == json.loads(MLP_REGRESSOR)
    # FluCoMa runs each layer with its own code; a file may mix hidden activations
    mixed = {"layers": [{**LAYER_0, "activation": 3}, {**LAYER_1, "rows": 2, "activation": 2},
                        {"activation": 0, "biases": [0.0], "cols": 1, "rows": 1, "weights": [[2.0]]}]}
    mm = MLPRegressor.from_dict(mixed)
    x = np.array([0.3, -1.2, 2.0])
    h = np.tanh(np.array(LAYER_0["weights"]).T @ x + LAYER_0["biases"])
    h = relu(np.array(LAYER_1["weights"]).T @ h + LAYER_1["biases"])
    assert np.allclose(mm.predict_point(x), 2.0 * h, rtol=1e-14) and mm.activation == "tanh"
    assert mm.to_dict() == mixed


def test_mlp_classifier_as_flucoma_writes_it(tmp_path):
    m = MLPClassifier.load(written(tmp_path, "c.json", MLP_CLASSIFIER))
    assert m.classes == ["kick", "snare", "hat"] and m.hidden_layers == [2]
    W, b = np.array(CLASSIFIER_OUT["weights"]), np.array(CLASSIFIER_OUT["biases"])
    for x in [np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, -1.0]), np.array([-3.0, 0.5, 0.5])]:
        z = W.T @ mlp_hidden(x) + b
        # FluCoMa's decodeOneHot picks the largest sigmoid output; softmax ranks the same way
        assert m.predict_point(x) == m.classes[int(np.argmax(1 / (1 + np.exp(-z))))]
        p = m.predict_proba_point(x)
        assert math.isclose(sum(p.values()), 1.0) and max(p, key=p.get) == m.predict_point(x)
    assert m.to_dict() == json.loads(MLP_CLASSIFIER)


def test_mlp_classifier_labels_written_as_numbers():
    d = json.loads(MLP_CLASSIFIER)
    d["labels"] = {"labels": [1, 2, 3.0], "rows": 3.0}
    assert MLPClassifier.from_dict(d).classes == ["1", "2", "3"]
    del d["labels"]["rows"]  # FluCoMa needs it; we can do without
    assert MLPClassifier.from_dict(d).classes == ["1", "2", "3"]


def test_knn_classifier_as_flucoma_writes_it(tmp_path):
    knn = KNNClassifier.load(written(tmp_path, "knn.json", KNN_CLASSIFIER), num_neighbours=1)
    assert len(knn) == 5 and knn.classes == ["x", "y"]
    assert [knn.predict_point(q) for q in [[0.4, 0.2], [1.2, 4.0], [2.1, 1.2], [3.6, 3.4]]] == ["x", "x", "y", "y"]
    assert knn.to_dict() == json.loads(KNN_CLASSIFIER)
    # fitting the same points here builds FluCoMa's very tree
    ds = DataSet.from_numpy(list(POINTS), list(POINTS.values()))
    ls = LabelSet.from_dict(KNN_LABELS)
    assert KNNClassifier().fit(ds, ls).to_dict()["tree"] == KDTREE


def test_knn_regressor_as_flucoma_writes_it(tmp_path):
    knn = KNNRegressor.load(written(tmp_path, "reg.json", KNN_REGRESSOR), num_neighbours=2)
    # nearest to (2.9, 2.9): d (0.141), e (1.556): inverse-distance weights
    w = np.array([1 / math.hypot(0.1, 0.1), 1 / math.hypot(1.1, 1.1)])
    assert np.allclose(knn.predict_point([2.9, 2.9]), (w @ [30.0, 40.0]) / w.sum(), rtol=1e-12)
    assert knn.predict_point([3.0, 3.0]).tolist() == [30.0]  # a stored point takes all the weight
    assert knn.to_dict() == json.loads(KNN_REGRESSOR)


def test_kdtree_variants_flucoma_reads():
    d = json.loads(KNN_CLASSIFIER)
    d["tree"].update(rows=5.0, cols=2.0, tree=[[1.0, 3.0], [2, -1.0], [-1, -1], [4, -1], [-1, -1]])
    d["tree"]["extra"] = True
    assert KNNClassifier.from_dict(d).to_dict() == json.loads(KNN_CLASSIFIER)
    one = {"labels": {"cols": 1, "data": {"7": "solo"}},
           "tree": {"cols": 1, "data": [0.5], "ids": 7, "rows": 1, "tree": [[-1, -1]]}}
    knn = KNNClassifier.from_dict(one)  # Max-dict style one-element lists, a numeric id, one class
    assert knn.predict_point([3.0]) == "solo" and knn.to_dict()["tree"]["ids"] == ["7"]


# --- what we write is what FluCoMa reads -----------------------------------------------------------
def test_written_files_have_flucoma_keys_and_number_types(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(12, 2))
    ids = [f"p{i}" for i in range(12)]
    ds = DataSet.from_numpy(ids, X)
    ls = LabelSet()
    for i, point_id in enumerate(ids):
        ls.add_label(point_id, "ab"[i % 2])
    objects = {
        "dataset": (ds, {"cols", "data"}),
        "normalize": (Normalize().fit(ds), {"cols", "data_min", "data_max", "min", "max"}),
        "standardize": (Standardize().fit(ds), {"cols", "mean", "std"}),
        "robust": (RobustScale().fit(ds), {"cols", "data_low", "data_high", "low", "high", "median", "range"}),
        "knn": (KNNClassifier().fit(ds, ls), {"labels", "tree"}),
        "knnreg": (KNNRegressor().fit(ds, ds), {"target", "tree"}),
        "mlp": (MLPClassifier([3], max_iter=2, validation=0.0, seed=1), {"labels", "mlp"}),
        "mlpreg": (MLPRegressor([3], max_iter=2, validation=0.0, seed=1), {"layers"}),
    }
    objects["mlp"][0].fit(ds, ls)
    objects["mlpreg"][0].fit(ds, ds)
    for name, (obj, keys) in objects.items():
        obj.save(tmp_path / f"{name}.json")
        d = json.loads((tmp_path / f"{name}.json").read_text())
        assert set(d) == keys, name
    read = lambda name: json.loads((tmp_path / f"{name}.json").read_text())  # noqa: E731
    for name in ["dataset", "normalize", "standardize", "robust"]:
        assert type(read(name)["cols"]) is int
    tree = read("knn")["tree"]
    assert set(tree) == {"cols", "data", "ids", "rows", "tree"}
    assert type(tree["rows"]) is int and type(tree["cols"]) is int
    assert all(type(c) is int for pair in tree["tree"] for c in pair)
    assert all(type(v) is float for row in tree["data"] for v in row)
    assert read("knn")["labels"] == ls.to_dict()
    mlp = read("mlp")
    assert mlp["labels"] == {"labels": ["a", "b"], "rows": 2} and type(mlp["labels"]["rows"]) is int
    for layer in mlp["mlp"]["layers"] + read("mlpreg")["layers"]:
        assert set(layer) == {"activation", "biases", "cols", "rows", "weights"}
        assert all(type(layer[k]) is int for k in ("activation", "cols", "rows"))
        assert len(layer["weights"]) == layer["rows"] and len(layer["weights"][0]) == layer["cols"]
    assert mlp["mlp"]["layers"][-1]["activation"] == 1  # FluCoMa's classifier output: sigmoid
    assert type(read("normalize")["min"]) is float and type(read("robust")["low"]) is float


# --- damaged files ---------------------------------------------------------------------------------
LOADERS = {
    "DataSet": (DataSet, json.loads(DATASET)),
    "LabelSet": (LabelSet, json.loads(LABELSET)),
    "Normalize": (Normalize, json.loads(NORMALIZE)),
    "Standardize": (Standardize, json.loads(STANDARDIZE)),
    "RobustScale": (RobustScale, json.loads(ROBUSTSCALE)),
    "MLPRegressor": (MLPRegressor, json.loads(MLP_REGRESSOR)),
    "MLPClassifier": (MLPClassifier, json.loads(MLP_CLASSIFIER)),
    "KNNClassifier": (KNNClassifier, json.loads(KNN_CLASSIFIER)),
    "KNNRegressor": (KNNRegressor, json.loads(KNN_REGRESSOR)),
}
NON_OBJECTS = [None, [], [1, 2], "text", 3, 2.5, True]


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_rejects_non_objects_and_missing_keys(name):
    cls, good = LOADERS[name]
    for bad in NON_OBJECTS:
        with pytest.raises(ValueError, match="JSON object"):
            cls.from_dict(bad)
    for key in good:
        broken = {k: v for k, v in good.items() if k != key}
        if cls in (DataSet, LabelSet) and key == "data":
            continue  # FluCoMa writes empty sets without "data"
        with pytest.raises(ValueError, match=repr(key)):
            cls.from_dict(broken)


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_rejects_truncated_and_garbage_files(name, tmp_path):
    cls, good = LOADERS[name]
    text = json.dumps(good, indent=2)
    for cut in [len(text) // 3, len(text) - 2]:
        path = written(tmp_path, "cut.json", text[:cut])
        with pytest.raises(JSONFileError, match="truncated|not valid JSON"):
            cls.load(path)
    with pytest.raises(JSONFileError, match="nested too deeply"):
        cls.load(written(tmp_path, "deep.json", "[" * 100000 + "]" * 100000))
    with pytest.raises(JSONFileError, match="cut.json|deep.json|big.json"):
        cls.load(written(tmp_path, "big.json", '{"cols": ' + "9" * 5000 + "}"))


def replace(d, path, value):
    """A deep copy of d with d[path[0]][path[1]]... set to value."""
    d = json.loads(json.dumps(d))
    target = d
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return d


DEEP = [[[[[[1.0]]]]]]
CASES = [
    # (loader, path, value, message)
    ("DataSet", ["cols"], "3", "whole number"),
    ("DataSet", ["cols"], True, "whole number"),
    ("DataSet", ["cols"], 2.5, "whole number"),
    ("DataSet", ["cols"], -3, "whole number"),
    ("DataSet", ["cols"], 10**30, "whole number"),
    ("DataSet", ["cols"], 4, "3 values|4 numbers"),
    ("DataSet", ["data"], [[0.0, 1.0, 2.0]], "'data' must be an object"),
    ("DataSet", ["data", "1"], [0.1, 0.2], "3 values|3 numbers"),
    ("DataSet", ["data", "1"], [0.1, [0.2], 0.3], "3 numbers"),
    ("DataSet", ["data", "1"], [0.1, None, 0.3], "numbers"),
    ("DataSet", ["data", "1"], [0.1, "0.2", 0.3], "numbers"),
    ("DataSet", ["data", "1"], [0.1, True, 0.3], "numbers"),
    ("DataSet", ["data", "1"], [0.1, float("nan"), 0.3], "NaN"),
    ("DataSet", ["data", "1"], [0.1, float("inf"), 0.3], "NaN or infinity"),
    ("DataSet", ["data", "1"], DEEP, "numbers"),
    ("DataSet", ["data", "1"], {"x": 1}, "numbers"),
    ("DataSet", ["data", "1"], 7.0, "3 numbers"),
    ("LabelSet", ["cols"], 2, "cols 1"),
    ("LabelSet", ["data", "a"], [], "one label"),
    ("LabelSet", ["data", "a"], [""], "non-empty string"),
    ("LabelSet", ["data", "a"], [None], "string label"),
    ("LabelSet", ["data", "a"], [["oboe"]], "string label"),
    ("LabelSet", ["data", "a"], [float("nan")], "string label"),
    ("LabelSet", ["data"], ["oboe"], "'data' must be an object"),
    ("Normalize", ["cols"], 3, "3 numbers"),
    ("Normalize", ["data_min"], [1.0], "2 numbers"),
    ("Normalize", ["data_min"], 1.0, "2 numbers"),
    ("Normalize", ["data_max"], [1.0, None], "numbers"),
    ("Normalize", ["min"], "0", "min"),
    ("Normalize", ["max"], float("inf"), "max"),
    ("Normalize", ["cols"], 0, "cols 0"),
    ("Standardize", ["std"], [1.0, float("nan")], "NaN"),
    ("Standardize", ["mean"], [[1.0, 2.0]], "2 values|2 numbers"),
    ("RobustScale", ["low"], -1.0, "'low'"),
    ("RobustScale", ["high"], 101, "high"),
    ("RobustScale", ["range"], [1.0, 2.0, 3.0], "2 values|2 numbers"),
    ("MLPRegressor", ["layers"], None, "no layers"),
    ("MLPRegressor", ["layers"], {"0": LAYER_0}, "list of layers"),
    ("MLPRegressor", ["layers", 0, "activation"], 4, "activation 4"),
    ("MLPRegressor", ["layers", 0, "activation"], "relu", "activation 'relu'"),
    ("MLPRegressor", ["layers", 0, "activation"], 1.5, "activation 1.5"),
    ("MLPRegressor", ["layers", 0, "rows"], 0, "whole number"),
    ("MLPRegressor", ["layers", 0, "rows"], 2, "2 lists of 2"),
    ("MLPRegressor", ["layers", 1, "rows"], 3, "takes 3 inputs"),
    ("MLPRegressor", ["layers", 0, "weights", 1], [0.25], "2 numbers"),
    ("MLPRegressor", ["layers", 0, "weights"], [0.5, -1.0], "3 lists"),
    ("MLPRegressor", ["layers", 0, "biases"], None, "'biases'"),
    ("MLPRegressor", ["layers", 1, "biases"], [float("inf")], "NaN or infinity"),
    ("MLPRegressor", ["layers", 1], "layer", "JSON object"),
    ("MLPClassifier", ["labels"], {"labels": ["kick", "snare"], "rows": 2}, "2 labels but 3 outputs"),
    ("MLPClassifier", ["labels", "rows"], 2, "rows 2"),
    ("MLPClassifier", ["labels", "labels"], ["kick", "kick", "hat"], "duplicate"),
    ("MLPClassifier", ["labels", "labels"], ["kick", None, "hat"], "string label"),
    ("MLPClassifier", ["labels", "labels"], "kick", "list of labels"),
    ("MLPClassifier", ["mlp"], None, "JSON object"),
    ("MLPClassifier", ["mlp", "layers"], [], "no layers"),
    ("KNNClassifier", ["tree", "rows"], 0, "no points"),
    ("KNNClassifier", ["tree", "rows"], -1, "whole number"),
    ("KNNClassifier", ["tree", "rows"], 6, "hold 6 points"),
    ("KNNClassifier", ["tree", "cols"], 3, "3 numbers"),
    ("KNNClassifier", ["tree", "data"], None, "hold 5 points"),
    ("KNNClassifier", ["tree", "data", 2], [0.0, float("nan")], "NaN"),
    ("KNNClassifier", ["tree", "data", 2], [0.0], "2 numbers"),
    ("KNNClassifier", ["tree", "ids"], ["c", "b", "a", "e"], "5 ids"),
    ("KNNClassifier", ["tree", "ids", 0], None, "strings"),
    ("KNNClassifier", ["tree", "ids", 0], "b", "duplicate"),
    ("KNNClassifier", ["tree", "ids", 0], "zz", "ids differ"),
    ("KNNClassifier", ["tree", "tree", 0], [1, 5], "pairs"),
    ("KNNClassifier", ["tree", "tree", 0], [1, 3, 4], "pairs"),
    ("KNNClassifier", ["tree", "tree", 0], [1, -2], "pairs"),
    ("KNNClassifier", ["tree", "tree", 0], [1, 0.5], "pairs"),
    ("KNNClassifier", ["tree", "tree", 0], [1, "3"], "pairs"),
    ("KNNClassifier", ["tree", "tree", 3], [4, 1], "not a tree"),
    ("KNNClassifier", ["tree", "tree", 0], [1, -1], "not a tree"),
    ("KNNClassifier", ["tree", "tree"], None, "pairs"),
    ("KNNClassifier", ["labels", "data", "a"], [None], "string label"),
    ("KNNClassifier", ["labels", "data"], {"a": ["x"]}, "ids differ"),
    ("KNNRegressor", ["target", "data", "a"], [float("inf")], "NaN or infinity"),
    ("KNNRegressor", ["target", "data", "a"], [0.0, 1.0], "1 numbers"),
    ("KNNRegressor", ["target", "cols"], 0, "cols 0"),
    ("KNNRegressor", ["target"], [1, 2], "JSON object"),
]


@pytest.mark.parametrize("name, path, value, match", CASES)
def test_malformed_values_raise_clear_errors(name, path, value, match):
    cls, good = LOADERS[name]
    with pytest.raises(ValueError, match=match):
        cls.from_dict(replace(good, path, value))


def test_nan_literals_in_files_are_rejected(tmp_path):
    # Python's json reads NaN/Infinity literals; FluCoMa writes non-finite values as null
    text = DATASET.replace("12.0", "NaN")
    with pytest.raises(JSONFileError, match="NaN"):
        DataSet.load(written(tmp_path, "nan.json", text))
    with pytest.raises(JSONFileError, match="numbers"):
        DataSet.load(written(tmp_path, "null.json", DATASET.replace("12.0", "null")))


def test_odd_python_objects_give_value_errors():
    # from_dict is also called on dicts built in code: odd keys and values still give ValueError
    with pytest.raises(ValueError, match="strings"):
        DataSet.from_dict({"cols": 1, "data": {3: [1.0]}})
    with pytest.raises(ValueError, match="strings"):
        LabelSet.from_dict({"cols": 1, "data": {("a",): ["x"]}})
    with pytest.raises(ValueError):
        KNNClassifier.from_dict({"labels": {1: 2, "a": 3}})
    with pytest.raises(ValueError):
        MLPRegressor.from_dict({"layers": [{**LAYER_0, "weights": object()}]})


def test_loaded_flucoma_classifier_continues_training_in_its_label_order():
    m = MLPClassifier.from_dict(json.loads(MLP_CLASSIFIER))
    m.max_iter, m.validation, m.learn_rate = 3, 0.0, 1e-9
    rng = np.random.default_rng(5)
    X = rng.normal(size=(9, 3))
    ds = DataSet.from_numpy([f"p{i}" for i in range(9)], X)
    ls = LabelSet()
    for i, label in enumerate(["hat", "snare", "kick"] * 3):  # first appearance differs from the file
        ls.add_label(f"p{i}", label)
    m.fit(ds, ls)
    assert m.epochs == 3 and m.classes == ["kick", "snare", "hat"]  # not reset: the file's order
    after = m.to_dict()["mlp"]["layers"]
    assert np.allclose(after[0]["weights"], LAYER_0["weights"], atol=1e-6)


def paths(d, prefix=()):
    """Every position in a nested JSON value."""
    yield prefix
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    for key, value in items:
        yield from paths(value, prefix + (key,))


ODD_VALUES = [None, True, "x", -1, 0, 2.5, 1e308, float("nan"), [], {}, [None], [[[[[1.0]]]]], {"k": [1]}]


@pytest.mark.parametrize("name", LOADERS)
def test_any_damage_anywhere_gives_a_value_error_or_a_valid_object(name):
    # every position of a good file replaced by every odd value: the loader either accepts the
    # result (e.g. an id renamed consistently is still a file) or raises ValueError, never
    # TypeError, KeyError, IndexError or a crash
    cls, good = LOADERS[name]
    refused = 0
    for path in list(paths(good))[1:]:
        for value in ODD_VALUES:
            damaged = replace(good, list(path), value)
            try:
                cls.from_dict(damaged)
            except ValueError as exc:
                refused += 1
                assert str(exc)
    assert refused > 0


def test_huge_sizes_in_damaged_files_allocate_nothing():
    big = 2**31 - 1  # the largest size accepted; the values must still match it
    with pytest.raises(ValueError, match="2147483647 numbers"):
        DataSet.from_dict({"cols": big, "data": {"a": [1.0]}})
    with pytest.raises(ValueError, match="2147483647 numbers"):
        KNNClassifier.from_dict(replace(json.loads(KNN_CLASSIFIER), ["tree", "cols"], big))
    with pytest.raises(ValueError, match="2147483647 numbers"):
        MLPRegressor.from_dict(replace(json.loads(MLP_REGRESSOR), ["layers", 1, "cols"], big))
    assert len(DataSet.from_dict({"cols": big})) == 0  # an empty set of that width costs nothing
