"""numba kernels for the multi-layer perceptron: forward, backward, momentum update, whole epochs.

Layout (set up once per network by ``layout``):
  * ``sizes`` int64 [n_in, h1, ..., n_out]; ``acts`` int64 per layer (FluCoMa's 0..3 numbers).
  * ``params`` one flat float64 vector; layer l holds W_l (sizes[l] x sizes[l+1], row-major, so
    z = W^T x + b exactly as FluCoMa's dump) at ``poff[l]`` followed by its biases.
  * work matrices ``A`` (activations) and ``D`` (deltas) of shape (uoff[-1], rows); layer l's units
    occupy rows uoff[l] .. uoff[l+1].
``softmax`` replaces the output activation by a softmax (the classifier); the output delta is then
``p - y``, the gradient of cross-entropy. Otherwise the delta is ``(y_hat - y) * act'``, the gradient
of half the squared error, as in FluCoMa. Gradients are averaged over the batch, and the update is
FluCoMa's ``v = momentum * v + (1 - momentum) * learn_rate * grad; w -= v``.
A whole epoch runs in one kernel call (no Python per sample or per batch); batch size 1 has its
own fused kernel, larger batches a batched one.
"""
from __future__ import annotations

import numpy as np
from numba import njit

IDENTITY, SIGMOID, RELU, TANH = 0, 1, 2, 3
ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "relu": RELU, "tanh": TANH}


def layout(sizes: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sizes, poff, uoff) int64 arrays for a network with these layer widths."""
    s = np.asarray(sizes, dtype=np.int64)
    n_layers = len(s) - 1
    poff = np.zeros(n_layers + 1, dtype=np.int64)
    for l in range(n_layers):
        poff[l + 1] = poff[l] + s[l] * s[l + 1] + s[l + 1]
    uoff = np.concatenate(([0], np.cumsum(s))).astype(np.int64)
    return s, poff, uoff


@njit(cache=True, nogil=True)
def _act(z, kind):
    if kind == SIGMOID:
        return 1.0 / (1.0 + np.exp(-z))
    if kind == RELU:
        return z if z > 0.0 else 0.0
    if kind == TANH:
        return np.tanh(z)
    return z


@njit(cache=True, nogil=True)
def _dact(y, kind):
    """Derivative of the activation, written in terms of its output y (as FluCoMa does)."""
    if kind == SIGMOID:
        return y * (1.0 - y)
    if kind == RELU:
        return 1.0 if y > 0.0 else 0.0
    if kind == TANH:
        return 1.0 - y * y
    return 1.0


# Pieces the per-sample and batched kernels share. inline="always" inlines them in numba's IR, so
# they compile with the caller's fastmath flags and cost nothing; left to LLVM, a batch-1 epoch of a
# small network ran 50% slower. (Softmax stays written out in each kernel: shared, it measured 3%
# slower per sample.)
@njit(cache=True, nogil=True, inline="always")
def _layer(sizes, poff, uoff, l):
    """Where layer l lives: (inputs, outputs, first weight, first bias, first input unit,
    first output unit)."""
    nin = sizes[l]
    nout = sizes[l + 1]
    w0 = poff[l]
    return nin, nout, w0, w0 + nin * nout, uoff[l], uoff[l + 1]


@njit(cache=True, nogil=True, inline="always")
def _output_delta(diff, y, softmax, kind):
    """Delta of an output unit from y_hat - y: as is for softmax + cross-entropy, else times act'."""
    return diff if softmax else diff * _dact(y, kind)


@njit(cache=True, nogil=True, inline="always")
def _momentum_step(params, vel, k, g, momentum, step):
    """FluCoMa's update of parameter k from its gradient g; step is (1 - momentum) * learn_rate."""
    v = momentum * vel[k] + step * g
    vel[k] = v
    params[k] -= v


@njit(cache=True, nogil=True, inline="always")
def _affine_one(params, nin, nout, w0, b0, v, src, dst):
    """One layer for one point, before its activation: v[dst:dst + nout] = W^T v[src:src + nin] + b."""
    for j in range(nout):
        v[dst + j] = params[b0 + j]
    for i in range(nin):
        x = v[src + i]
        base = w0 + i * nout
        for j in range(nout):
            v[dst + j] += x * params[base + j]


# Batched kernels keep A and D unit-major, shape (units, rows): the innermost loops then run over
# the rows of the batch, contiguous and long enough to vectorise. reassoc/contract (not full
# fastmath, which would assume no NaN and break the divergence check) lets the sums over rows
# vectorise too.
_FAST = {"reassoc", "contract"}


@njit(cache=True, nogil=True, fastmath=_FAST)
def forward_rows(params, sizes, acts, poff, uoff, softmax, X, rows, start, count, A):
    """Forward pass of X[rows[start:start+count]] into A[:, :count]."""
    n_layers = sizes.shape[0] - 1
    for r in range(count):
        src = rows[start + r]
        for i in range(sizes[0]):
            A[i, r] = X[src, i]
    for l in range(n_layers):
        nin, nout, w0, b0, ui, uo = _layer(sizes, poff, uoff, l)
        for j in range(nout):
            b = params[b0 + j]
            for r in range(count):
                A[uo + j, r] = b
        for i in range(nin):
            base = w0 + i * nout
            for j in range(nout):
                w = params[base + j]
                for r in range(count):
                    A[uo + j, r] += w * A[ui + i, r]
        if softmax and l == n_layers - 1:
            for r in range(count):
                m = A[uo, r]
                for j in range(1, nout):
                    m = max(m, A[uo + j, r])
                s = 0.0
                for j in range(nout):
                    e = np.exp(A[uo + j, r] - m)
                    A[uo + j, r] = e
                    s += e
                for j in range(nout):
                    A[uo + j, r] /= s
        elif acts[l] != IDENTITY:
            kind = acts[l]
            for j in range(nout):
                for r in range(count):
                    A[uo + j, r] = _act(A[uo + j, r], kind)


@njit(cache=True, nogil=True, fastmath=_FAST)
def squared_error(sizes, uoff, Y, rows, start, count, A):
    """Sum over the rows of the squared distance between output and target (FluCoMa's loss * n)."""
    uo = uoff[sizes.shape[0] - 1]
    n_out = sizes[sizes.shape[0] - 1]
    total = 0.0
    for r in range(count):
        t = rows[start + r]
        for j in range(n_out):
            d = A[uo + j, r] - Y[t, j]
            total += d * d
    return total


@njit(cache=True, nogil=True, fastmath=_FAST)
def backward_rows(params, grad, sizes, acts, poff, uoff, softmax, Y, rows, start, count, A, D):
    """Batch-mean gradient of the loss into ``grad`` (overwritten), from a forward pass in A."""
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    uo = uoff[n_layers]
    kind = acts[n_layers - 1]
    for r in range(count):
        t = rows[start + r]
        for j in range(n_out):
            y = A[uo + j, r]
            d = y - Y[t, j]
            D[uo + j, r] = _output_delta(d, y, softmax, kind)
    norm = 1.0 / count
    for l in range(n_layers - 1, -1, -1):
        nin, nout, w0, b0, ui, uo = _layer(sizes, poff, uoff, l)
        for j in range(nout):
            s = 0.0
            for r in range(count):
                s += D[uo + j, r]
            grad[b0 + j] = norm * s
        for i in range(nin):
            base = w0 + i * nout
            for j in range(nout):
                s = 0.0
                for r in range(count):
                    s += A[ui + i, r] * D[uo + j, r]
                grad[base + j] = norm * s
        if l > 0:
            below = acts[l - 1]
            for i in range(nin):
                base = w0 + i * nout
                for r in range(count):
                    D[ui + i, r] = 0.0
                for j in range(nout):
                    w = params[base + j]
                    for r in range(count):
                        D[ui + i, r] += w * D[uo + j, r]
                for r in range(count):
                    D[ui + i, r] *= _dact(A[ui + i, r], below)


@njit(cache=True, nogil=True)
def momentum_update(params, vel, grad, learn_rate, momentum):
    step = (1.0 - momentum) * learn_rate
    for k in range(params.shape[0]):
        _momentum_step(params, vel, k, grad[k], momentum, step)


@njit(cache=True, nogil=True)
def epoch_batched(params, vel, grad, sizes, acts, poff, uoff, softmax, X, Y, order, batch_size,
                  learn_rate, momentum, stop, A, D):
    """Minibatch SGD over X[order] with the batched kernels (A, D: (units, batch_size))."""
    n = order.shape[0]
    total = 0.0
    done = 0
    for start in range(0, n, batch_size):
        if stop[0] != 0:
            break
        count = min(batch_size, n - start)
        forward_rows(params, sizes, acts, poff, uoff, softmax, X, order, start, count, A)
        total += squared_error(sizes, uoff, Y, order, start, count, A)
        backward_rows(params, grad, sizes, acts, poff, uoff, softmax, Y, order, start, count, A, D)
        momentum_update(params, vel, grad, learn_rate, momentum)
        done += count
    return total, done


@njit(cache=True, nogil=True)
def epoch_single(params, vel, sizes, acts, poff, uoff, softmax, X, Y, order, learn_rate, momentum,
                 stop, a, d):
    """SGD with batch size 1: per sample a forward pass, then per layer (top down) the delta of
    the layer below followed by that layer's momentum update, fused so no gradient is stored.
    a, d: work vectors of uoff[-1] values. Same arithmetic as epoch_batched with batch_size 1."""
    n_layers = sizes.shape[0] - 1
    n_out = sizes[n_layers]
    step = (1.0 - momentum) * learn_rate
    total = 0.0
    done = 0
    for s_i in range(order.shape[0]):
        if stop[0] != 0:
            break
        t = order[s_i]
        for i in range(sizes[0]):
            a[i] = X[t, i]
        for l in range(n_layers):
            nin, nout, w0, b0, ui, uo = _layer(sizes, poff, uoff, l)
            _affine_one(params, nin, nout, w0, b0, a, ui, uo)
            if softmax and l == n_layers - 1:
                m = a[uo]
                for j in range(1, nout):
                    m = max(m, a[uo + j])
                s = 0.0
                for j in range(nout):
                    e = np.exp(a[uo + j] - m)
                    a[uo + j] = e
                    s += e
                for j in range(nout):
                    a[uo + j] /= s
            else:
                kind = acts[l]
                for j in range(nout):
                    a[uo + j] = _act(a[uo + j], kind)
        uo = uoff[n_layers]
        kind = acts[n_layers - 1]
        for j in range(n_out):
            y = a[uo + j]
            diff = y - Y[t, j]
            total += diff * diff
            d[uo + j] = _output_delta(diff, y, softmax, kind)
        for l in range(n_layers - 1, -1, -1):
            nin, nout, w0, b0, ui, uo = _layer(sizes, poff, uoff, l)
            if l > 0:
                below = acts[l - 1]
                for i in range(nin):
                    base = w0 + i * nout
                    acc = 0.0
                    for j in range(nout):
                        acc += params[base + j] * d[uo + j]
                    d[ui + i] = acc * _dact(a[ui + i], below)
            for i in range(nin):
                x = a[ui + i]
                base = w0 + i * nout
                for j in range(nout):
                    _momentum_step(params, vel, base + j, x * d[uo + j], momentum, step)
            for j in range(nout):
                _momentum_step(params, vel, b0 + j, d[uo + j], momentum, step)
        done += 1
    return total, done


@njit(cache=True, nogil=True, fastmath=_FAST)
def evaluate(params, sizes, acts, poff, uoff, softmax, X, Y, rows, A):
    """Summed squared error over X[rows] (processed in chunks of A's width)."""
    total = 0.0
    chunk = A.shape[1]
    n = rows.shape[0]
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        forward_rows(params, sizes, acts, poff, uoff, softmax, X, rows, start, count, A)
        total += squared_error(sizes, uoff, Y, rows, start, count, A)
    return total


@njit(cache=True, nogil=True)
def predict_rows(params, sizes, acts, poff, uoff, softmax, X, A, out):
    """Outputs for every row of X into ``out`` (chunks of A's width)."""
    n = X.shape[0]
    rows = np.arange(n)
    chunk = A.shape[1]
    uo = uoff[sizes.shape[0] - 1]
    n_out = out.shape[1]
    for start in range(0, n, chunk):
        count = min(chunk, n - start)
        forward_rows(params, sizes, acts, poff, uoff, softmax, X, rows, start, count, A)
        for r in range(count):
            for j in range(n_out):
                out[start + r, j] = A[uo + j, r]


@njit(cache=True, nogil=True)
def predict_one(params, sizes, acts, softmax, x, work, out):
    """Forward pass of one point without allocating: ``work`` holds 2 * max width, ``out`` n_out.

    Returns the index of the largest output (the classifier's label), or -1 if x is not finite.
    """
    n_layers = sizes.shape[0] - 1
    width = work.shape[0] // 2
    for i in range(sizes[0]):
        if not np.isfinite(x[i]):
            return -1
        work[i] = x[i]
    src = 0
    dst = width
    p = 0
    for l in range(n_layers):
        nin = sizes[l]
        nout = sizes[l + 1]
        b0 = p + nin * nout
        _affine_one(params, nin, nout, p, b0, work, src, dst)
        if not (softmax and l == n_layers - 1):
            kind = acts[l]
            for j in range(nout):
                work[dst + j] = _act(work[dst + j], kind)
        p = b0 + nout
        src, dst = dst, src
    n_out = sizes[n_layers]
    best = 0
    for j in range(n_out):
        out[j] = work[src + j]
        if out[j] > out[best]:
            best = j
    if softmax:
        m = out[best]
        s = 0.0
        for j in range(n_out):
            out[j] = np.exp(out[j] - m)
            s += out[j]
        for j in range(n_out):
            out[j] /= s
    return best


def objective_and_gradient(params, sizes, acts, softmax, X, Y):
    """The loss the kernels descend and its gradient over all of X (for tests and diagnostics).

    Half the mean squared error per point, or the mean cross-entropy when ``softmax``.
    """
    s, poff, uoff = layout(list(sizes))
    n = X.shape[0]
    rows = np.arange(n)
    A = np.empty((uoff[-1], n))
    D = np.empty((uoff[-1], n))
    grad = np.empty_like(params)
    forward_rows(params, s, acts, poff, uoff, softmax, X, rows, 0, n, A)
    out = A[uoff[-2]:uoff[-1]].T
    if softmax:
        loss = -np.sum(Y * np.log(out)) / n
    else:
        loss = 0.5 * np.sum((out - Y) ** 2) / n
    backward_rows(params, grad, s, acts, poff, uoff, softmax, Y, rows, 0, n, A, D)
    return loss, grad
