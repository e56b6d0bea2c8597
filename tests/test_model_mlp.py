"""MLPClassifier / MLPRegressor: gradients, learning, continue-vs-reset, early stopping, stop,
divergence, FluCoMa JSON, bad input."""
import json
import threading

import numpy as np
import pytest

from model import DataSet, LabelSet, NotFittedError
from model import mlp_kernels as K
from model.mlp import PATIENCE, MLPClassifier, MLPRegressor, TrainingDivergedError


def make_dataset(X, prefix="p"):
    return DataSet.from_numpy([f"{prefix}{i}" for i in range(len(X))], X)


def make_labels(labels, prefix="p"):
    ls = LabelSet()
    for i, lab in enumerate(labels):
        ls.add_label(f"{prefix}{i}", str(lab))
    return ls


def accuracy(model, X, labels):
    return np.mean([model.predict_point(x) == str(lab) for x, lab in zip(X, labels)])


def xor_data(n, seed):
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    X = corners + rng.normal(0, 0.1, size=(n, 2))
    return X, np.where(corners[:, 0] ^ corners[:, 1], "one", "zero")


# --- kernels ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("softmax", [False, True])
@pytest.mark.parametrize("act", list(K.ACTIVATIONS.values()))
def test_gradient_matches_finite_differences(act, softmax):
    rng = np.random.default_rng(act + 10 * softmax)
    sizes = np.array([3, 4, 5, 2])
    acts = np.array([act, act, act], dtype=np.int64)
    _, poff, _ = K.layout(list(sizes))
    params = rng.normal(0, 0.8, poff[-1])
    X = rng.normal(size=(6, 3))
    Y = np.eye(2)[rng.integers(0, 2, 6)] if softmax else rng.normal(size=(6, 2))
    loss, grad = K.objective_and_gradient(params, sizes, acts, softmax, X, Y)
    h = 1e-6
    numeric = np.array([
        (K.objective_and_gradient(params + h * e, sizes, acts, softmax, X, Y)[0]
         - K.objective_and_gradient(params - h * e, sizes, acts, softmax, X, Y)[0]) / (2 * h)
        for e in np.eye(len(params))])
    assert np.abs(grad).max() > 1e-3  # a vacuous all-zero gradient would not count
    assert np.allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("softmax", [False, True])
def test_single_sample_kernel_matches_batched_kernel(softmax):
    rng = np.random.default_rng(3)
    sizes, poff, uoff = K.layout([3, 5, 4, 3])
    acts = np.array([K.TANH, K.TANH, K.SIGMOID], dtype=np.int64)
    X = rng.normal(size=(40, 3))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    order = rng.permutation(40)
    p1 = rng.normal(0, 0.5, poff[-1])
    v1 = rng.normal(0, 0.01, poff[-1])
    p2, v2 = p1.copy(), v1.copy()
    stop = np.zeros(1, dtype=np.int64)
    e1 = K.epoch_single(p1, v1, sizes, acts, poff, uoff, softmax, X, Y, order, 0.1, 0.7, stop,
                        np.empty(uoff[-1]), np.empty(uoff[-1]))
    e2 = K.epoch_batched(p2, v2, np.empty_like(p2), sizes, acts, poff, uoff, softmax, X, Y, order, 1,
                         0.1, 0.7, stop, np.empty((uoff[-1], 1)), np.empty((uoff[-1], 1)))
    assert e1[1] == e2[1] == 40 and np.isclose(e1[0], e2[0])
    assert np.allclose(p1, p2, atol=1e-12) and np.allclose(v1, v2, atol=1e-12)
    assert not np.allclose(p1, p2 + 0.001)


# --- learning --------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [1, 8])
def test_learns_xor(batch_size):
    X, y = xor_data(200, seed=1)
    m = MLPClassifier([6], activation="tanh", learn_rate=0.3, momentum=0.9, batch_size=batch_size,
                      max_iter=300, validation=0.0, seed=2)
    m.fit(make_dataset(X), make_labels(y))
    Xt, yt = xor_data(200, seed=5)
    assert accuracy(m, Xt, yt) >= 0.95


def test_learns_two_moons():
    from sklearn.datasets import make_moons
    X, y = make_moons(400, noise=0.1, random_state=0)
    m = MLPClassifier([10, 10], activation="relu", learn_rate=0.1, momentum=0.9, batch_size=10,
                      max_iter=400, validation=0.0, seed=0)
    m.fit(make_dataset(X), make_labels(y))
    Xt, yt = make_moons(400, noise=0.1, random_state=1)
    assert accuracy(m, Xt, yt) >= 0.95
    proba = m.predict_proba_point(Xt[0])
    assert sorted(proba) == ["0", "1"] and np.isclose(sum(proba.values()), 1.0)
    assert max(proba, key=proba.get) == m.predict_point(Xt[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_error_comparable_to_scikit_learn():
    from sklearn.neural_network import MLPRegressor as SkMLP
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 2))
    Y = np.column_stack([np.sin(2 * X[:, 0]) * X[:, 1], X[:, 0] ** 2])
    # FluCoMa's update scales the step by (1 - momentum): learn_rate 0.1 here is scikit-learn's 0.01
    ours = MLPRegressor([16], activation="tanh", learn_rate=0.1, momentum=0.9, batch_size=16,
                        max_iter=300, validation=0.0, seed=0)
    err = ours.fit(make_dataset(X), make_dataset(Y))
    sk = SkMLP(hidden_layer_sizes=(16,), activation="tanh", solver="sgd", learning_rate_init=0.01, momentum=0.9,
               nesterovs_momentum=False, batch_size=16, max_iter=300, tol=0.0, n_iter_no_change=10**6,
               random_state=0).fit(X, Y)
    sk_err = np.mean(np.sum((sk.predict(X) - Y) ** 2, axis=1))
    ours_err = np.mean(np.sum((ours.predict(make_dataset(X)).to_numpy()[1] - Y) ** 2, axis=1))
    assert np.isclose(err, ours_err)  # fit returns FluCoMa's error: squared error per point
    assert ours_err < 0.05  # it learned (the variance of Y is ~0.2)
    assert ours_err <= 1.5 * sk_err + 2e-3


# --- continue versus reset -------------------------------------------------------------------------
@pytest.fixture
def xor_sets():
    X, y = xor_data(80, seed=4)
    return make_dataset(X), make_labels(y)


def test_fit_continues_and_plain_parameters_do_not_reset(xor_sets):
    m = MLPClassifier([4], max_iter=5, validation=0.0, seed=1)
    m.fit(*xor_sets)
    assert m.trained and m.epochs == 5
    before = m.to_dict()
    m.learn_rate = 1e-12  # essentially frozen: a continued fit must leave the weights where they were
    m.momentum = 0.0
    m.batch_size = 3
    m.max_iter = 4
    m.validation = 0.25
    m.fit(*xor_sets)
    assert m.epochs == 9
    a = np.array(before["mlp"]["layers"][0]["weights"])
    b = np.array(m.to_dict()["mlp"]["layers"][0]["weights"])
    assert np.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("change", [
    lambda m: setattr(m, "hidden_layers", [5]),
    lambda m: setattr(m, "activation", "tanh"),
    lambda m: setattr(m, "seed", 1),
    lambda m: m.clear(),
])
def test_structural_changes_reset(xor_sets, change):
    m = MLPClassifier([4], activation="relu", max_iter=5, validation=0.0, seed=1)
    m.fit(*xor_sets)
    change(m)
    assert not m.trained and m.epochs == 0 and m.classes == []
    with pytest.raises(NotFittedError):
        m.predict_point([0.0, 0.0])
    m.fit(*xor_sets)
    assert m.epochs == 5


def test_regressor_output_activation_and_width_reset():
    rng = np.random.default_rng(0)
    X = make_dataset(rng.normal(size=(30, 2)))
    m = MLPRegressor([3], max_iter=4, validation=0.0, seed=0)
    m.fit(X, X)
    m.output_activation = "sigmoid"
    assert m.epochs == 0 and not m.trained
    m.fit(X, X)
    assert m.epochs == 4
    wide = make_dataset(rng.normal(size=(30, 3)))
    m.fit(wide, X)  # another input width: starts again
    assert m.epochs == 4 and m.n_inputs == 3
    m.fit(wide, wide)  # another output width too
    assert m.epochs == 4 and m.n_outputs == 3
    m.fit(wide, wide)
    assert m.epochs == 8


def test_classifier_label_sets(xor_sets):
    ds, ls = xor_sets
    m = MLPClassifier([4], max_iter=3, validation=0.0, seed=0)
    m.fit(ds, ls)
    classes = m.classes
    reordered = LabelSet()  # same labels, other order of first appearance: continues
    items = sorted(ls.items(), key=lambda item: item[1] != classes[1])
    for i, lab in items:
        reordered.add_label(i, lab)
    assert reordered.classes() != classes
    m.fit(ds, reordered)
    assert m.epochs == 6 and m.classes == classes
    renamed = LabelSet()
    for i, lab in ls.items():
        renamed.add_label(i, lab + "!")
    m.fit(ds, renamed)
    assert m.epochs == 3 and set(m.classes) == {c + "!" for c in classes}


def test_same_seed_same_network(xor_sets):
    dumps = []
    for seed in [7, 7, 8]:
        m = MLPClassifier([5], batch_size=4, max_iter=10, validation=0.2, seed=seed)
        m.fit(*xor_sets)
        dumps.append(m.to_dict())
    assert dumps[0] == dumps[1] and dumps[0] != dumps[2]


def test_glorot_uniform_initial_weights():
    m = MLPRegressor([50, 40], activation="tanh", max_iter=1, learn_rate=1e-12, validation=0.0, seed=3)
    rng = np.random.default_rng(0)
    m.fit(make_dataset(rng.normal(size=(10, 30))), make_dataset(rng.normal(size=(10, 20))))
    for layer in m.to_dict()["layers"]:
        W = np.array(layer["weights"])
        limit = np.sqrt(6 / (layer["rows"] + layer["cols"]))
        assert np.abs(W).max() <= limit and np.abs(W).max() > 0.9 * limit
        assert abs(W.std() - limit / np.sqrt(3)) < 0.1 * limit  # uniform on [-limit, limit]
        assert np.allclose(layer["biases"], 0, atol=1e-9)


# --- early stopping, progress, stop, divergence ----------------------------------------------------
def test_early_stopping_keeps_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 2, 60)  # labels are noise: held-out error soon stops improving
    m = MLPClassifier([32], learn_rate=0.5, momentum=0.9, batch_size=4, max_iter=2000, validation=0.3, seed=0)
    history, dumps = [], []

    def progress(epoch, train_error, validation_error):
        history.append((epoch, train_error, validation_error))
        dumps.append(m.to_dict())

    m.fit(make_dataset(X), make_labels(y), progress=progress)
    val = np.array([h[2] for h in history])
    best = int(np.argmin(val))
    assert len(history) < 2000 and m.epochs == len(history)
    assert len(history) == best + 1 + PATIENCE  # stopped PATIENCE epochs after the best
    assert [h[0] for h in history] == list(range(1, len(history) + 1))
    assert m.to_dict() == dumps[best] and m.to_dict() != dumps[-1]


def test_progress_without_validation_and_returning_false(xor_sets):
    seen = []

    def progress(epoch, train_error, validation_error):
        seen.append((epoch, train_error, validation_error))
        return epoch < 3

    m = MLPClassifier([4], max_iter=50, validation=0.0, seed=0)
    m.fit(*xor_sets, progress=progress)
    assert m.epochs == 3 and [s[0] for s in seen] == [1, 2, 3]
    assert all(s[2] is None and s[1] > 0 for s in seen)
    m.progress = progress  # the attribute works like the argument
    m.fit(*xor_sets)
    assert m.epochs == 4


def test_stop_from_another_thread():
    rng = np.random.default_rng(0)
    X = make_dataset(rng.normal(size=(2000, 3)))
    m = MLPRegressor([8], batch_size=1, max_iter=100_000, validation=0.0, seed=0)
    started = threading.Event()
    result = []
    m.progress = lambda *a: started.set()
    t = threading.Thread(target=lambda: result.append(m.fit(X, X)))
    t.start()
    assert started.wait(60)
    assert m.training
    for x in X.to_numpy()[1][:50]:  # the GUI predicts while a worker thread trains
        assert np.isfinite(m.predict_point(x)).all()
    m.learn_rate = 0.005  # plain parameters may change mid-fit; they apply from the next epoch
    with pytest.raises(ValueError, match="while fit is running"):
        m.hidden_layers = [2]
    m.stop()
    t.join(60)
    assert not t.is_alive() and len(result) == 1 and np.isfinite(result[0])
    assert 1 <= m.epochs < 100_000 and m.trained and not m.training
    m.max_iter = 2
    m.progress = None
    m.fit(X, X)  # a stop does not carry over to the next fit
    assert m.epochs >= 3


def test_divergence_restores_weights_and_raises():
    rng = np.random.default_rng(0)
    X = make_dataset(rng.normal(0, 100, size=(50, 3)))
    m = MLPRegressor([4], activation="identity", learn_rate=1e-7, max_iter=3, validation=0.0, seed=0)
    m.fit(X, X)
    before, epochs = m.to_dict(), m.epochs
    m.learn_rate, m.max_iter = 1e3, 500
    with pytest.raises(TrainingDivergedError, match="learn_rate"):
        m.fit(X, X)
    assert m.to_dict() == before and m.epochs == epochs and m.trained
    fresh = MLPRegressor([4], activation="identity", learn_rate=1e3, max_iter=500, validation=0.0, seed=0)
    with pytest.raises(ValueError, match="diverged"):
        fresh.fit(X, X)
    assert not fresh.trained and fresh.epochs == 0


# --- JSON ------------------------------------------------------------------------------------------
def test_flucoma_regressor_dump_predicts_its_forward_pass(test_data_dir, tmp_path):
    folder = test_data_dir / "flucoma"
    raw = json.loads((folder / "help.reg.nn.json").read_text())
    m = MLPRegressor.load(folder / "help.reg.nn.json")
    assert m.trained and m.hidden_layers == [3] and m.activation == "sigmoid"
    assert m.output_activation == "sigmoid"
    inputs = DataSet.load(folder / "help.reg.input.json")
    predicted = m.predict(inputs)
    for pid in inputs.ids:
        x = inputs.get_point(pid)
        for layer in raw["layers"]:
            z = np.array(layer["weights"]).T @ x + np.array(layer["biases"])
            x = {0: z, 1: 1 / (1 + np.exp(-z)), 2: np.maximum(z, 0), 3: np.tanh(z)}[layer["activation"]]
        assert np.allclose(m.predict_point(inputs.get_point(pid)), x, rtol=1e-12, atol=1e-15)
        assert np.allclose(predicted.get_point(pid), x, rtol=1e-12, atol=1e-15)
    # the dump's targets were learned: predictions are near help.reg.output.json
    targets = DataSet.load(folder / "help.reg.output.json")
    errors = [np.abs(predicted.get_point(pid) - targets.get_point(pid)).mean() for pid in targets.ids[:4]]
    assert max(errors) < 0.1
    assert m.to_dict() == raw
    m.save(tmp_path / "nn.json")
    assert json.loads((tmp_path / "nn.json").read_text()) == raw
    # a loaded model continues from its weights
    m.learn_rate, m.max_iter, m.batch_size = 1e-12, 2, 1
    m.fit(inputs.copy(), targets)
    assert m.epochs == 2
    assert np.allclose(np.array(m.to_dict()["layers"][1]["weights"]),
                       np.array(raw["layers"][1]["weights"]), atol=1e-9)


def test_classifier_json_round_trip(xor_sets, tmp_path):
    m = MLPClassifier([5, 3], activation="tanh", max_iter=20, validation=0.0, seed=0)
    m.fit(*xor_sets)
    d = m.to_dict()
    assert d["labels"] == {"labels": m.classes, "rows": 2}
    layers = d["mlp"]["layers"]
    assert [(l["rows"], l["cols"], l["activation"]) for l in layers] == [(2, 5, 3), (5, 3, 3), (3, 2, 1)]
    assert sorted(layers[0]) == ["activation", "biases", "cols", "rows", "weights"]
    m.save(tmp_path / "c.json")
    again = MLPClassifier.load(tmp_path / "c.json")
    assert again.to_dict() == d and again.hidden_layers == [5, 3] and again.activation == "tanh"
    x = np.array([0.9, 0.1])
    assert again.predict_proba_point(x) == m.predict_proba_point(x)
    assert again.predict(xor_sets[0]).to_dict() == m.predict(xor_sets[0]).to_dict()


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.pop("layers"), "'layers'"),
    (lambda d: d["layers"][0].update(activation=7), "activation 7"),
    (lambda d: d["layers"][1].update(rows=4), "takes 4 inputs"),
    (lambda d: d["layers"][0]["weights"].pop(), "2 lists of 3"),
    (lambda d: d["layers"][0]["biases"].append(1.0), "'biases'"),
    (lambda d: d["layers"][0]["weights"][0].__setitem__(0, "x"), "numbers"),
    (lambda d: d.update(layers=[]), "no layers"),
])
def test_malformed_regressor_dumps(test_data_dir, mutate, match):
    d = json.loads((test_data_dir / "flucoma" / "help.reg.nn.json").read_text())
    mutate(d)
    with pytest.raises(ValueError, match=match):
        MLPRegressor.from_dict(d)


def test_malformed_classifier_dumps(xor_sets):
    m = MLPClassifier([3], max_iter=2, validation=0.0, seed=0)
    m.fit(*xor_sets)
    d = m.to_dict()
    with pytest.raises(ValueError, match="2 outputs"):
        MLPClassifier.from_dict({**d, "labels": {"labels": ["a", "b", "c"], "rows": 3}})
    with pytest.raises(ValueError, match="duplicate"):
        MLPClassifier.from_dict({**d, "labels": {"labels": ["a", "a"], "rows": 2}})
    with pytest.raises(ValueError, match="'mlp'"):
        MLPClassifier.from_dict({"labels": d["labels"]})


# --- bad input -------------------------------------------------------------------------------------
def test_bad_input_raises_and_leaves_model_unchanged(xor_sets):
    ds, ls = xor_sets
    m = MLPClassifier([4], max_iter=3, validation=0.0, seed=0)
    with pytest.raises(NotFittedError, match="fit"):
        m.predict_point([0.0, 0.0])
    with pytest.raises(NotFittedError):
        m.to_dict()
    m.fit(ds, ls)
    before, epochs = m.to_dict(), m.epochs
    one_class = LabelSet()
    for i in ds.ids:
        one_class.add_label(i, "oboe")
    missing = ls.copy()
    missing.delete_label(ds.ids[3])
    extra = ls.copy()
    extra.add_label("stray", "one")
    bad_calls = [
        (lambda: m.predict_point([0.0]), "2 values"),
        (lambda: m.predict_point([0.0, np.nan]), "NaN"),
        (lambda: m.predict_proba_point(np.array([np.inf, 0.0])), "NaN or infinity"),
        (lambda: m.predict(make_dataset(np.zeros((2, 3)))), "3"),
        (lambda: m.fit(ds, one_class), "two classes"),
        (lambda: m.fit(ds, missing), repr(ds.ids[3])),
        (lambda: m.fit(ds, extra), "'stray'"),
        (lambda: m.fit(DataSet(2), ls), "empty"),
        (lambda: m.fit(ds, LabelSet()), "empty"),
        (lambda: m.fit(ds, ds), "LabelSet"),
        (lambda: setattr(m, "learn_rate", 0), "learn_rate"),
        (lambda: setattr(m, "momentum", 1.0), "momentum"),
        (lambda: setattr(m, "batch_size", 0), "batch_size"),
        (lambda: setattr(m, "validation", 1.0), "validation"),
        (lambda: setattr(m, "max_iter", 2.5), "max_iter"),
        (lambda: setattr(m, "hidden_layers", [3, 0]), "hidden layer"),
        (lambda: setattr(m, "activation", "softplus"), "activation"),
        (lambda: setattr(m, "seed", -1), "seed"),
    ]
    for call, match in bad_calls:
        with pytest.raises(ValueError, match=match):
            call()
    assert m.to_dict() == before and m.epochs == epochs and m.trained
    r = MLPRegressor([2], max_iter=1, validation=0.0)
    with pytest.raises(ValueError, match="DataSet"):
        r.fit(ds, ls)
    with pytest.raises(NotFittedError):
        r.predict(ds)
