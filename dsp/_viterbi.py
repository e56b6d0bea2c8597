"""Banded Viterbi kernels for the pYIN pitch HMM. Private to dsp.pitch.

States 0..n-1 are voiced pitch bins, n..2n-1 their unvoiced twins (librosa's layout). The
transition matrix is librosa's `kron(transition_loop(2, 1-switch), transition_local(n, width))`
in the log domain, so only sources within `half` bins of a destination have a real
probability; every other transition is log(tiny) ~ -708.4, which librosa keeps (not -inf).
We take those out-of-band moves into account exactly through the previous frame's global
maximum, which is the only out-of-band source that could ever win.

Tie-breaking copies np.argmax over the source index: the lowest index wins.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def global_argmax(v: np.ndarray) -> int:
    best = 0
    for k in range(1, v.shape[0]):
        if v[k] > v[best]:
            best = k
    return best


@njit(cache=True, nogil=True)
def _best_in_band(v_prev: np.ndarray, j: int, n: int, half: int, coef_v: np.ndarray,
                  coef_u: np.ndarray) -> tuple[float, int]:
    """Best predecessor of destination bin j among the voiced (coef_v) then unvoiced (coef_u)
    sources within the band; returns (value, source state)."""
    lo = max(0, j - half)
    hi = min(n - 1, j + half)
    best = -np.inf
    arg = -1
    for k in range(lo, hi + 1):
        c = v_prev[k] + coef_v[k - j + half]
        if c > best:
            best = c
            arg = k
    for k in range(lo, hi + 1):
        c = v_prev[n + k] + coef_u[k - j + half]
        if c > best:
            best = c
            arg = n + k
    return best, arg


@njit(cache=True, nogil=True)
def viterbi_step(v_prev: np.ndarray, obs_v: np.ndarray, obs_u: float, stay: np.ndarray,
                 switch: np.ndarray, half: int, log_tiny: float, v_out: np.ndarray,
                 ptr_out: np.ndarray) -> None:
    """One forward step: v_out[s] = obs[s] + max_k (v_prev[k] + log_trans[k, s]).

    stay[j, e] / switch[j, e]: log transition into bin j from bin j - half + e within / across
    voicing. obs_v[j]: log observation of voiced bin j; obs_u: that of every unvoiced bin.
    """
    n = obs_v.shape[0]
    g = global_argmax(v_prev)
    g_bin = g % n
    g_val = v_prev[g] + log_tiny
    for j in range(n):
        out_of_band = abs(g_bin - j) > half
        # voiced destination: voiced sources stay, unvoiced sources switch
        best, arg = _best_in_band(v_prev, j, n, half, stay[j], switch[j])
        if out_of_band and (g_val > best or (g_val == best and g < arg)):
            best = g_val
            arg = g
        v_out[j] = obs_v[j] + best
        ptr_out[j] = arg
        # unvoiced destination: voiced sources switch, unvoiced sources stay
        best, arg = _best_in_band(v_prev, j, n, half, switch[j], stay[j])
        if out_of_band and (g_val > best or (g_val == best and g < arg)):
            best = g_val
            arg = g
        v_out[n + j] = obs_u + best
        ptr_out[n + j] = arg


@njit(cache=True, nogil=True)
def viterbi_offline(obs_v: np.ndarray, obs_u: np.ndarray, log_init: float, stay: np.ndarray,
                    switch: np.ndarray, half: int, log_tiny: float) -> np.ndarray:
    """Whole-sequence decoding. obs_v (T, n) voiced log-observations, obs_u (T,) unvoiced.
    Returns the state sequence (T,) as librosa.sequence.viterbi does."""
    n_steps, n = obs_v.shape
    states = np.zeros(n_steps, dtype=np.int64)
    if n_steps == 0:
        return states
    ptr = np.zeros((n_steps, 2 * n), dtype=np.uint16)
    v = np.empty(2 * n)
    v_next = np.empty(2 * n)
    for j in range(n):
        v[j] = obs_v[0, j] + log_init
        v[n + j] = obs_u[0] + log_init
    for t in range(1, n_steps):
        viterbi_step(v, obs_v[t], obs_u[t], stay, switch, half, log_tiny, v_next, ptr[t])
        v, v_next = v_next, v
    states[n_steps - 1] = global_argmax(v)
    for t in range(n_steps - 2, -1, -1):
        states[t] = ptr[t + 1, states[t + 1]]
    return states
