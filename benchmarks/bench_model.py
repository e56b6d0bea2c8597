"""Speed of model/ against scikit-learn, measured in the same run (prints a Markdown table).

    .venv/bin/python benchmarks/bench_model.py

Training: time per epoch of MLPClassifier.fit against scikit-learn's MLPClassifier with the same
architecture (relu hidden layers), plain SGD with momentum 0.9, no validation or early stopping.
Each side is timed as (fit with E2 epochs - fit with E1 epochs) / (E2 - E1), so set-up costs
cancel. Prediction: latency of one point (median of many calls). Needs scikit-learn (the "bench"
extra); not part of the test suite.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier as SkKNN  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402

from model import DataSet, KNNClassifier, LabelSet, MLPClassifier  # noqa: E402
from model import knn_kernels  # noqa: E402

warnings.filterwarnings("ignore", category=ConvergenceWarning)
RNG = np.random.default_rng(0)


def make_data(n: int, dims: int, classes: int, clustered: bool = False):
    if clustered:  # like audio features: a few sounds, each a cloud
        centres = RNG.normal(size=(4 * classes, dims)) * 3
        which = RNG.integers(0, len(centres), n)
        X = centres[which] + RNG.normal(size=(n, dims)) * 0.5
        y = which % classes
    else:
        X = RNG.normal(size=(n, dims))
        y = RNG.integers(0, classes, n)
    ids = [str(i) for i in range(n)]
    ls = LabelSet()
    for i, c in zip(ids, y):
        ls.add_label(i, f"class{c}")
    return X, y, DataSet.from_numpy(ids, X), ls


def per_epoch(fit, e1: int, e2: int, repeats: int = 5) -> float:
    """Seconds per epoch: (fastest fit of e2 epochs - fastest fit of e1 epochs) / (e2 - e1).

    Fastest of several runs, because the machine may be shared: other load only adds time."""
    def fastest(epochs):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fit(epochs)
            times.append(time.perf_counter() - t)
        return min(times)
    return (fastest(e2) - fastest(e1)) / (e2 - e1)


def latency(call, x_rows: np.ndarray, repeats: int = 5) -> float:
    """Seconds per call: the fastest of several passes over the rows."""
    call(x_rows[0])
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for x in x_rows:
            call(x)
        runs.append((time.perf_counter() - t) / len(x_rows))
    return min(runs)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e3:.2f} ms"


def training_rows():
    cases = [(1000, 2, [3], 1, 2), (1000, 2, [3], 32, 2), (10000, 13, [8, 8], 1, 3), (10000, 13, [8, 8], 32, 3)]
    rows = []
    for n, dims, hidden, bs, classes in cases:
        X, y, ds, ls = make_data(n, dims, classes)
        ours = MLPClassifier(hidden, activation="relu", learn_rate=0.01, momentum=0.9, batch_size=bs,
                             validation=0.0, seed=0)

        def fit_ours(epochs):
            ours.max_iter = epochs
            ours.fit(ds, ls)

        def fit_sk(epochs):
            SkMLP(tuple(hidden), activation="relu", solver="sgd", learning_rate_init=0.01, momentum=0.9,
                  nesterovs_momentum=False, batch_size=bs, max_iter=epochs, tol=0.0,
                  n_iter_no_change=10**9, shuffle=True, random_state=0).fit(X, y)

        fit_ours(1)  # compile / load the cached kernels
        slow = bs == 1 and n > 1000
        t_ours = per_epoch(fit_ours, 5, 25 if not slow else 10, repeats=7)
        t_sk = per_epoch(fit_sk, 1, 2 if slow else 4, repeats=1 if slow else 3)
        rows.append((f"MLP epoch, {n:,} x {dims}, hidden {hidden}, batch {bs}", t_ours, t_sk))
    return rows


def prediction_rows():
    rows = []
    X, y, ds, ls = make_data(10000, 13, 3)
    ours = MLPClassifier([8, 8], max_iter=3, validation=0.0, seed=0)
    ours.fit(ds, ls)
    sk = SkMLP((8, 8), max_iter=3, random_state=0).fit(X, y)
    Q = RNG.normal(size=(2000, 13))
    rows.append(("MLP predict_point (13 in, [8, 8])", latency(ours.predict_point, Q),
                 latency(lambda x: sk.predict(x[None]), Q[:300])))
    rows.append(("MLP predict_proba_point (13 in, [8, 8])", latency(ours.predict_proba_point, Q),
                 latency(lambda x: sk.predict_proba(x[None]), Q[:300])))
    for dims, clustered in [(2, False), (13, True), (13, False)]:
        X, y, ds, ls = make_data(10000, dims, 3, clustered)
        knn = KNNClassifier(3, weight=True).fit(ds, ls)
        sk = SkKNN(3, weights="distance").fit(X, y)
        Q = X[RNG.integers(0, len(X), 1000)] + RNG.normal(size=(1000, dims)) * 0.1
        kind = "clustered" if clustered else "gaussian"
        search = "tree" if knn.uses_tree else "scan"
        rows.append((f"KNN predict_point, 10,000 x {dims} {kind} ({search})", latency(knn.predict_point, Q),
                     latency(lambda x: sk.predict(x[None]), Q[:200])))
    return rows


def search_rows():
    """Why KNN picks tree or scan: both searches timed on the same data."""
    out = []
    for dims, clustered in [(2, False), (13, True), (13, False)]:
        X, *_ = make_data(10000, dims, 3, clustered)
        order, tree = knn_kernels.build_tree(X)
        data = X[order]
        depth = knn_kernels.tree_depth(tree)
        bd, bn = np.empty(3), np.empty(3, dtype=np.int64)
        sn, sb = np.empty((depth + 2, 2), dtype=np.int64), np.empty(depth + 2)
        data_t, scan = np.ascontiguousarray(data.T), np.empty(len(X))
        Q = X[RNG.integers(0, len(X), 1000)] + RNG.normal(size=(1000, dims)) * 0.1
        t_tree = latency(lambda q: knn_kernels.k_nearest(data, tree, q, 3, bd, bn, sn, sb), Q)
        t_scan = latency(lambda q: knn_kernels.k_nearest_brute(data_t, q, 3, bd, bn, scan), Q)
        out.append((dims, "clustered" if clustered else "gaussian", t_tree, t_scan))
    return out


def main() -> None:
    print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| case | Timbrel | scikit-learn | speed-up |")
    print("| --- | ---: | ---: | ---: |")
    for name, ours, sk in training_rows() + prediction_rows():
        print(f"| {name} | {fmt(ours)} | {fmt(sk)} | {sk / ours:.0f}x |", flush=True)
    print()
    print("| KNN search, 10,000 points, k=3 | kd-tree | scan |")
    print("| --- | ---: | ---: |")
    for dims, kind, t_tree, t_scan in search_rows():
        print(f"| {dims} dims, {kind} | {fmt(t_tree)} | {fmt(t_scan)} |")


if __name__ == "__main__":
    main()
