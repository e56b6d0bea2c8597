"""FluCoMa's MLPRegressor and MLPClassifier: a multi-layer perceptron trained from scratch.

Training is minibatch stochastic gradient descent with FluCoMa's momentum rule, one numba kernel
per epoch (see ``mlp_kernels``). Semantics follow FluCoMa, with two documented additions:

* ``fit`` continues from the current weights and momentum; changing ``hidden_layers``,
  ``activation``, ``output_activation`` or ``seed``, or fitting data of another width (or another
  set of labels / output width), resets the network first. ``clear()`` resets explicitly; after a
  reset ``trained`` is False and ``epochs`` is 0.
* With ``validation`` > 0 that fraction of the points (a split that stays the same across fits of
  the same data) is held out; training stops once the held-out error has not improved for
  ``PATIENCE`` epochs, and the weights of the best held-out error seen in this fit are kept
  (FluCoMa keeps the last ones).
* The error returned by ``fit`` is FluCoMa's: the squared error summed over outputs, averaged over
  the training points, measured after training.
* JSON is FluCoMa's (flucoma-core include/data/FluidJSON.hpp for MLP and LabelSetEncoder,
  include/clients/nrt/MLPClassifierClient.hpp): ``{"layers": [{"activation", "biases", "cols",
  "rows", "weights"}, ...]}`` with activation codes 0 identity, 1 sigmoid, 2 relu, 3 tanh, and
  ``{"labels": {"labels": [...], "rows": n}, "mlp": {"layers": [...]}}``. FluCoMa stores no
  training parameters; each layer keeps its own activation code when loaded.
* The classifier's output layer is a softmax trained with cross-entropy, so
  ``predict_proba_point`` gives probabilities that sum to 1 (FluCoMa's classifier has sigmoid
  outputs and no probabilities). Its dump stores the output layer as sigmoid (activation 1), as
  FluCoMa's classifier does: FluCoMa loads it and picks the same label, because sigmoid and softmax
  rank the outputs alike. Its reported error is still the squared error, of the probabilities
  against one-hot targets.

Threads: ``fit`` may run in a worker thread (its kernels release the GIL) while another thread
predicts, changes ``learn_rate`` and the like (read at every epoch) or calls ``stop()``. Changing
the structure while a fit runs raises. Predictions reuse scratch buffers: predict from one thread
at a time.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import mlp_kernels as K
from .checks import (as_vector, field, from_json, json_int, json_label, json_vector,
                     not_fitted, number_in, positive_int)
from .dataset import DataSet, LabelSet, check_targets, paired
from .jsonio import load_as, save_json

PATIENCE = 10  # epochs without a better held-out error before training stops (FluCoMa's value)
EVAL_CHUNK = 256  # rows per forward pass when measuring errors or predicting a DataSet

ACTIVATION_NAMES = {v: k for k, v in K.ACTIVATIONS.items()}
_FLOAT64 = np.dtype(np.float64)

Progress = Callable[[int, float, "float | None"], "bool | None"]


class _Net(NamedTuple):
    """Everything a forward pass needs, swapped in as one object so a prediction running in another
    thread never mixes the arrays of two different networks."""
    sizes: np.ndarray  # layer widths, input first
    acts: np.ndarray  # activation code per layer
    poff: np.ndarray  # parameter offset per layer
    uoff: np.ndarray  # unit offset per layer in the work matrices
    params: np.ndarray  # weights and biases, flat (see mlp_kernels)
    vel: np.ndarray  # momentum, same layout
    work: np.ndarray  # predict_point's scratch space
    out: np.ndarray  # predict_point's output
    labels: tuple[str, ...]  # classifier: the label of each output
    in_shape: tuple[int]  # shape of one input point, for predict_point's fast check


def _make_net(sizes: list[int], acts: list[int], params: np.ndarray, labels: Sequence[str] = ()) -> _Net:
    s, poff, uoff = K.layout(sizes)
    return _Net(s, np.asarray(acts, dtype=np.int64), poff, uoff, params, np.zeros_like(params),
                np.zeros(2 * max(sizes)), np.zeros(sizes[-1]), tuple(labels), (int(sizes[0]),))


class TrainingDivergedError(ValueError):
    """The training error became NaN or infinite; the weights from before that fit are restored."""


def _activation(value: object, name: str) -> str:
    if value not in K.ACTIVATIONS:
        raise ValueError(f"{name} must be one of {list(K.ACTIVATIONS)}, got {value!r}")
    return str(value)


class _MLP:
    _softmax = False

    def __init__(self, hidden_layers: Sequence[int], activation: str, max_iter: int,
                 learn_rate: float, momentum: float, batch_size: int, validation: float,
                 seed: int | None, progress: Progress | None):
        self._hidden = self._check_hidden(hidden_layers)
        self._activation = _activation(activation, "activation")
        self._seed = self._check_seed(seed)
        self.max_iter = max_iter
        self.learn_rate = learn_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.validation = validation
        self.progress = progress
        self._stop = np.zeros(1, dtype=np.int64)  # read by the kernels between batches
        self._lock = threading.Lock()  # held while fitting: structure changes must wait
        self._reset()

    # --- parameters -------------------------------------------------------------------------------
    # Structural ones reset the network when they change; the others apply from the next epoch.
    @staticmethod
    def _check_hidden(value: object) -> tuple[int, ...]:
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, Sequence) or isinstance(value, str):
            raise ValueError(f"hidden_layers must be a list of layer sizes like [3, 3], got {value!r}")
        return tuple(positive_int(v, "each hidden layer size") for v in value)

    @staticmethod
    def _check_seed(value: object) -> int | None:
        if value is None:
            return None
        return positive_int(value, "seed (or None)", minimum=0)

    def _set_structural(self, attr: str, value: Any) -> None:
        if getattr(self, attr) == value:
            return
        with self._idle("change the network's structure"):
            setattr(self, attr, value)
            self._reset()

    @property
    def hidden_layers(self) -> list[int]:
        return list(self._hidden)

    @hidden_layers.setter
    def hidden_layers(self, value: Sequence[int]) -> None:
        self._set_structural("_hidden", self._check_hidden(value))

    @property
    def activation(self) -> str:
        return self._activation

    @activation.setter
    def activation(self, value: str) -> None:
        self._set_structural("_activation", _activation(value, "activation"))

    @property
    def seed(self) -> int | None:
        return self._seed

    @seed.setter
    def seed(self, value: int | None) -> None:
        value = self._check_seed(value)
        with self._idle("change the seed"):
            self._seed = value
            self._reset()  # even if equal: a new seed means "start again, reproducibly"

    @property
    def max_iter(self) -> int:
        return self._max_iter

    @max_iter.setter
    def max_iter(self, value: int) -> None:
        self._max_iter = positive_int(value, "max_iter")

    @property
    def learn_rate(self) -> float:
        return self._learn_rate

    @learn_rate.setter
    def learn_rate(self, value: float) -> None:
        self._learn_rate = number_in(value, "learn_rate", 0.0, np.inf, low_open=True, high_open=True)

    @property
    def momentum(self) -> float:
        return self._momentum

    @momentum.setter
    def momentum(self, value: float) -> None:
        self._momentum = number_in(value, "momentum", 0.0, 1.0, high_open=True)

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self._batch_size = positive_int(value, "batch_size")

    @property
    def validation(self) -> float:
        return self._validation

    @validation.setter
    def validation(self, value: float) -> None:
        self._validation = number_in(value, "validation", 0.0, 1.0, high_open=True)

    # --- state ------------------------------------------------------------------------------------
    @property
    def trained(self) -> bool:
        """True once fitted (or loaded) and until the next reset."""
        return self._trained

    @property
    def epochs(self) -> int:
        """Epochs trained since the last reset (0 after a reset, and for a loaded model)."""
        return self._epochs

    @property
    def n_inputs(self) -> int | None:
        net = self._net
        return None if net is None else int(net.sizes[0])

    @property
    def training(self) -> bool:
        """True while ``fit`` runs (in any thread)."""
        return self._lock.locked()

    def clear(self) -> None:
        """Forget all training: the next fit starts from new random weights."""
        with self._idle("clear"):
            self._reset()

    def stop(self) -> None:
        """Ask a ``fit`` running in another thread to end after its current batch."""
        self._stop[0] = 1

    def _reset(self) -> None:
        self._trained = False
        self._net: _Net | None = None
        self._epochs = 0
        self._rng = np.random.default_rng(self._seed)
        self._split_seed = int(self._rng.integers(2**63 - 1))

    class _Idle:
        def __init__(self, mlp: "_MLP", doing: str):
            self.mlp, self.doing = mlp, doing

        def __enter__(self):
            if not self.mlp._lock.acquire(blocking=False):
                raise ValueError(f"cannot {self.doing} while fit is running: call stop() and wait "
                                 "for fit to return first")

        def __exit__(self, *exc):
            self.mlp._lock.release()

    def _idle(self, doing: str) -> "_MLP._Idle":
        return _MLP._Idle(self, doing)

    # --- network --------------------------------------------------------------------------------
    def _output_activation_code(self) -> int:
        raise NotImplementedError

    def _build(self, n_in: int, n_out: int, labels: Sequence[str]) -> None:
        """Glorot-uniform weights, zero biases, zero momentum."""
        sizes = [n_in, *self._hidden, n_out]
        _, poff, _ = K.layout(sizes)
        params = np.zeros(poff[-1])
        for l in range(len(sizes) - 1):
            limit = np.sqrt(6.0 / (sizes[l] + sizes[l + 1]))
            count = sizes[l] * sizes[l + 1]
            params[poff[l]:poff[l] + count] = self._rng.uniform(-limit, limit, count)
        acts = [K.ACTIVATIONS[self._activation]] * len(self._hidden) + [self._output_activation_code()]
        self._net = _make_net(sizes, acts, params, labels)

    def _trained_net(self, how: str) -> _Net:
        net = self._net
        if net is None or not self._trained:
            raise not_fitted(self, how)
        return net

    def _forward_point(self, vec: object) -> tuple[_Net, int]:
        """Run one point through the network into net.out; returns (net, arg-max output)."""
        net = self._net
        if net is None or not self._trained:
            raise not_fitted(self, self._fit_hint)
        # the live path passes float64 vectors: checked in a few cheap steps (finiteness in the kernel)
        x = vec if (type(vec) is np.ndarray and vec.dtype is _FLOAT64 and vec.shape == net.in_shape) \
            else as_vector(vec, net.in_shape[0], "point")
        best = K.predict_one(net.params, net.sizes, net.acts, self._softmax, x, net.work, net.out)
        if best < 0:
            as_vector(x, net.in_shape[0], "point")  # raises, naming the non-finite positions
        return net, best

    def _forward_dataset(self, dataset: DataSet) -> tuple[_Net, list[str], np.ndarray]:
        """(net, ids, outputs) for every point of a DataSet."""
        net = self._trained_net(self._fit_hint)
        if not isinstance(dataset, DataSet):
            raise ValueError(f"predict needs a DataSet, got {type(dataset).__name__}")
        if dataset.cols != net.sizes[0]:
            raise ValueError(f"the network takes {net.sizes[0]} columns but the DataSet has "
                             f"{dataset.cols}: transform it like the training data")
        ids, m = dataset.to_numpy()
        out = np.empty((len(ids), int(net.sizes[-1])))
        A = np.empty((net.uoff[-1], EVAL_CHUNK))
        K.predict_rows(net.params, net.sizes, net.acts, net.poff, net.uoff, self._softmax, m, A, out)
        return net, ids, out

    # --- training -------------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, Y: np.ndarray, compatible: bool, progress: Progress | None,
             labels: Sequence[str] = ()) -> float:
        with self._idle("start another fit"):
            self._stop[0] = 0
            if not compatible:
                self._reset()
            fresh = self._net is None
            if fresh:
                self._build(X.shape[1], Y.shape[1], labels)
            net = self._net
            before = (net.params.copy(), net.vel.copy(), self._epochs, self._trained)
            try:
                return self._train(net, X, Y, progress)
            except TrainingDivergedError:
                if fresh:
                    self._reset()
                else:
                    net.params[:], net.vel[:] = before[0], before[1]
                    self._epochs, self._trained = before[2], before[3]
                raise

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(training rows, held-out rows); the same split for the same number of points."""
        n_val = int(n * self._validation)
        if n_val < 1 or n - n_val < 1:
            return np.arange(n), np.arange(0)
        perm = np.random.default_rng(self._split_seed).permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _train(self, net: _Net, X: np.ndarray, Y: np.ndarray, progress: Progress | None) -> float:
        train_rows, val_rows = self._split(X.shape[0])
        params, vel = net.params, net.vel
        sizes, acts, poff, uoff, sm = net.sizes, net.acts, net.poff, net.uoff, self._softmax
        grad = np.empty_like(params)
        units = int(uoff[-1])
        eval_A = np.empty((units, EVAL_CHUNK))
        a, d = np.empty(units), np.empty(units)
        batch_A = batch_D = None
        best_val, best, patience = np.inf, None, PATIENCE
        for _ in range(self._max_iter):
            if self._stop[0]:
                break
            order = self._rng.permutation(train_rows)
            bs, lr, mom = min(self._batch_size, len(order)), self._learn_rate, self._momentum
            if bs == 1:
                sq, done = K.epoch_single(params, vel, sizes, acts, poff, uoff, sm, X, Y, order,
                                          lr, mom, self._stop, a, d)
            else:
                if batch_A is None or batch_A.shape[1] != bs:
                    batch_A, batch_D = np.empty((units, bs)), np.empty((units, bs))
                sq, done = K.epoch_batched(params, vel, grad, sizes, acts, poff, uoff, sm, X, Y, order,
                                           bs, lr, mom, self._stop, batch_A, batch_D)
            if done == 0:
                break
            self._epochs += 1
            train_error = sq / done
            if not (np.isfinite(train_error) and np.isfinite(params).all()):
                raise TrainingDivergedError(
                    f"training diverged at epoch {self._epochs} (the error became NaN or infinite); "
                    f"the weights from before this fit are restored. Lower learn_rate (now "
                    f"{self._learn_rate}) or momentum (now {self._momentum}), or scale the inputs "
                    "(e.g. Standardize)")
            val_error = None
            if len(val_rows):
                val_error = K.evaluate(params, sizes, acts, poff, uoff, sm, X, Y, val_rows, eval_A) / len(val_rows)
                if val_error < best_val:
                    best_val, patience = val_error, PATIENCE
                    best = (params.copy(), vel.copy())
                else:
                    patience -= 1
            self._trained = True
            if progress is not None and progress(self._epochs, float(train_error), val_error) is False:
                break
            if patience <= 0 or done < len(order):
                break
        if best is not None:
            params[:], vel[:] = best
        self._trained = True
        return float(K.evaluate(params, sizes, acts, poff, uoff, sm, X, Y, train_rows, eval_A) / len(train_rows))

    # --- JSON -----------------------------------------------------------------------------------
    @staticmethod
    def _layers_to_list(net: _Net) -> list[dict]:
        layers = []
        for l in range(len(net.sizes) - 1):
            nin, nout = int(net.sizes[l]), int(net.sizes[l + 1])
            w0 = net.poff[l]
            W = net.params[w0:w0 + nin * nout].reshape(nin, nout)
            b = net.params[w0 + nin * nout:net.poff[l + 1]]
            layers.append({"activation": int(net.acts[l]), "biases": b.tolist(), "cols": nout,
                           "rows": nin, "weights": W.tolist()})
        return layers

    @staticmethod
    def _parse_layers(layers: object) -> tuple[list[int], list[int], np.ndarray]:
        """(sizes, activation codes, flat params) from FluCoMa's "layers" list
        (flucoma-core include/data/FluidJSON.hpp, to_json/from_json for MLP)."""
        if layers is None or layers == []:
            raise ValueError("MLP JSON holds no layers: FluCoMa saves an MLP like this before it is "
                             "trained; train it (there or here) and save it again")
        if not isinstance(layers, list):
            raise ValueError(f"MLP JSON 'layers' must be a list of layers, got {type(layers).__name__}")
        sizes: list[int] = []
        acts: list[int] = []
        chunks: list[np.ndarray] = []
        for k, layer in enumerate(layers):
            what = f"MLP JSON layer {k}"
            act = field(layer, "activation", what)
            try:
                code = json_int(act, f"{what} activation")
            except ValueError:
                code = -1
            if code not in ACTIVATION_NAMES:
                raise ValueError(f"{what} has activation {act!r}; FluCoMa's are 0 identity, 1 sigmoid, "
                                 "2 relu, 3 tanh")
            rows = json_int(field(layer, "rows", what), f"{what} 'rows'", minimum=1)
            cols = json_int(field(layer, "cols", what), f"{what} 'cols'", minimum=1)
            if sizes and rows != sizes[-1]:
                raise ValueError(f"{what} takes {rows} inputs but the layer before gives {sizes[-1]}")
            weights = field(layer, "weights", what)
            if not (isinstance(weights, list) and len(weights) == rows):
                raise ValueError(f"{what} 'weights' must be {rows} lists of {cols} numbers (rows x cols)")
            W = np.array([json_vector(row, cols, f"{what} 'weights' row {r} ({rows} lists of {cols} numbers)")
                          for r, row in enumerate(weights)]).reshape(rows, cols)
            b = json_vector(field(layer, "biases", what), cols, f"{what} 'biases'")
            if not sizes:
                sizes.append(rows)
            sizes.append(cols)
            acts.append(code)
            chunks += [W.ravel(), b]
        return sizes, acts, np.concatenate(chunks)

    def _adopt(self, sizes: list[int], acts: list[int], params: np.ndarray, labels: Sequence[str] = ()) -> None:
        # FluCoMa runs each layer with its own activation code; its hidden activation is layer 0's
        # (MLP::hiddenActivation), which is what ``activation`` reports for a loaded model.
        self._hidden = tuple(sizes[1:-1])
        if len(acts) > 1:
            self._activation = ACTIVATION_NAMES[acts[0]]
        self._net = _make_net(sizes, acts, params, labels)
        self._trained = True

    def save(self, path: str | os.PathLike) -> None:
        save_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | os.PathLike):
        return load_as(cls.from_dict, path)

    def to_dict(self) -> dict:
        raise NotImplementedError


class MLPRegressor(_MLP):
    """Learns to map points of one DataSet to points of another (FluCoMa's MLPRegressor)."""

    _fit_hint = "call fit(inputs, targets)"

    def __init__(self, hidden_layers: Sequence[int] = (3, 3), activation: str = "relu",
                 output_activation: str = "identity", max_iter: int = 1000, learn_rate: float = 0.01,
                 momentum: float = 0.9, batch_size: int = 50, validation: float = 0.2,
                 seed: int | None = None, progress: Progress | None = None):
        self._output_activation = _activation(output_activation, "output_activation")
        super().__init__(hidden_layers, activation, max_iter, learn_rate, momentum, batch_size,
                         validation, seed, progress)

    @property
    def output_activation(self) -> str:
        return self._output_activation

    @output_activation.setter
    def output_activation(self, value: str) -> None:
        self._set_structural("_output_activation", _activation(value, "output_activation"))

    @property
    def n_outputs(self) -> int | None:
        net = self._net
        return None if net is None else int(net.sizes[-1])

    def _output_activation_code(self) -> int:
        return K.ACTIVATIONS[self._output_activation]

    def fit(self, inputs: DataSet, targets: DataSet, progress: Progress | None = None) -> float:
        """Train (continuing from the current weights); returns the training error.

        ``progress(epoch, train_error, validation_error)`` (default ``self.progress``) is called after
        every epoch with the total epoch count, the mean error of that epoch's batches and the held-out
        error (None without validation); returning False stops training.
        """
        check_targets(targets, DataSet, "MLPRegressor")
        ids, X = paired(inputs, targets)
        target_ids, T = targets.to_numpy()
        row = {i: k for k, i in enumerate(target_ids)}
        Y = T[[row[i] for i in ids]]
        net = self._net
        compatible = net is not None and net.sizes[0] == X.shape[1] and net.sizes[-1] == Y.shape[1]
        return self._fit(X, Y, compatible, progress if progress is not None else self.progress)

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> np.ndarray:
        net, _ = self._forward_point(vec)
        return net.out.copy()

    def predict(self, dataset: DataSet) -> DataSet:
        net, ids, out = self._forward_dataset(dataset)
        return DataSet.from_numpy(ids, out) if ids else DataSet(int(net.sizes[-1]))

    def to_dict(self) -> dict:
        return {"layers": self._layers_to_list(self._trained_net("call fit(inputs, targets) before saving"))}

    @classmethod
    @from_json("MLPRegressor JSON")
    def from_dict(cls, d: Mapping) -> "MLPRegressor":
        sizes, acts, params = cls._parse_layers(field(d, "layers", "MLPRegressor JSON"))
        mlp = cls(output_activation=ACTIVATION_NAMES[acts[-1]])
        mlp._adopt(sizes, acts, params)
        return mlp


class MLPClassifier(_MLP):
    """Learns to label the points of a DataSet from a LabelSet (FluCoMa's MLPClassifier),
    with softmax outputs so it can also say how sure it is."""

    _softmax = True
    _fit_hint = "call fit(inputs, labels)"

    def __init__(self, hidden_layers: Sequence[int] = (3, 3), activation: str = "relu",
                 max_iter: int = 1000, learn_rate: float = 0.01, momentum: float = 0.5,
                 batch_size: int = 50, validation: float = 0.2, seed: int | None = None,
                 progress: Progress | None = None):
        super().__init__(hidden_layers, activation, max_iter, learn_rate, momentum, batch_size,
                         validation, seed, progress)

    @property
    def classes(self) -> list[str]:
        """The labels, in the order of the network's outputs ([] until fitted or loaded)."""
        net = self._net
        return [] if net is None else list(net.labels)

    def _output_activation_code(self) -> int:
        return K.SIGMOID  # what FluCoMa's classifier uses; our kernels apply softmax instead

    def fit(self, inputs: DataSet, labels: LabelSet, progress: Progress | None = None) -> float:
        """Train (continuing from the current weights); returns the training error.

        Labels are one-hot encoded in order of first appearance. See MLPRegressor.fit for
        ``progress``. A different set of labels than the network has resets it.
        """
        check_targets(labels, LabelSet, "MLPClassifier")
        ids, X = paired(inputs, labels)
        label_of = [labels.get_label(i) for i in ids]
        classes = labels.classes()
        net = self._net
        compatible = net is not None and net.sizes[0] == X.shape[1] and set(classes) == set(net.labels)
        order = list(net.labels) if compatible else classes
        index = {c: k for k, c in enumerate(order)}
        Y = np.zeros((len(ids), len(order)))
        Y[np.arange(len(ids)), [index[c] for c in label_of]] = 1.0
        return self._fit(X, Y, compatible, progress if progress is not None else self.progress, order)

    def predict_point(self, vec: Sequence[float] | np.ndarray) -> str:
        net, best = self._forward_point(vec)
        return net.labels[best]

    def predict_proba_point(self, vec: Sequence[float] | np.ndarray) -> dict[str, float]:
        """{label: probability} (softmax outputs, summing to 1)."""
        net, _ = self._forward_point(vec)
        return dict(zip(net.labels, net.out.tolist()))

    def predict_proba(self, dataset: DataSet) -> tuple[list[str], np.ndarray]:
        """(ids, probabilities) with one column per label, in the order of ``classes``."""
        _, ids, out = self._forward_dataset(dataset)
        return ids, out

    def predict(self, dataset: DataSet) -> LabelSet:
        net, ids, p = self._forward_dataset(dataset)
        out = LabelSet()
        for i, k in zip(ids, p.argmax(axis=1) if ids else []):
            out.add_label(i, net.labels[k])
        return out

    def to_dict(self) -> dict:
        net = self._trained_net("call fit(inputs, labels) before saving")
        return {"labels": {"labels": list(net.labels), "rows": len(net.labels)},
                "mlp": {"layers": self._layers_to_list(net)}}

    @classmethod
    @from_json("MLPClassifier JSON")
    def from_dict(cls, d: Mapping) -> "MLPClassifier":
        # {"labels": {"labels": [...], "rows": n}, "mlp": {"layers": [...]}}: flucoma-core
        # include/clients/nrt/MLPClassifierClient.hpp and FluidJSON.hpp (LabelSetEncoder)
        encoder = field(d, "labels", "MLPClassifier JSON")
        labels = field(encoder, "labels", "MLPClassifier JSON 'labels'")
        if not isinstance(labels, list):
            raise ValueError("MLPClassifier JSON 'labels' must hold a list of labels, got "
                             f"{type(labels).__name__}")
        labels = [json_label(x, f"MLPClassifier JSON label {k}") for k, x in enumerate(labels)]
        if "rows" in encoder and json_int(encoder["rows"], "MLPClassifier JSON labels 'rows'") != len(labels):
            raise ValueError(f"MLPClassifier JSON labels say rows {encoder['rows']!r} but list "
                             f"{len(labels)} labels: the file is damaged")
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            raise ValueError(f"MLPClassifier JSON lists the label(s) {twice[:5]} more than once (duplicate): "
                             "each output needs its own label; the file is damaged")
        sizes, acts, params = cls._parse_layers(field(field(d, "mlp", "MLPClassifier JSON"), "layers",
                                                      "MLPClassifier JSON 'mlp'"))
        if len(labels) != sizes[-1] or len(labels) < 2:
            raise ValueError(f"MLPClassifier JSON has {len(labels)} labels but {sizes[-1]} outputs: "
                             "they must match (and be at least 2)")
        mlp = cls()
        mlp._adopt(sizes, acts, params, labels)
        return mlp
