"""Banded, sparse Viterbi kernels for the pYIN pitch HMM. Private to dsp.pitch.

States 0..n-1 are voiced pitch bins, n..2n-1 their unvoiced twins (librosa's layout). The
transition matrix is librosa's `kron(transition_loop(2, 1-switch), transition_local(n, width))`
in the log domain: only sources within `half` bins of a destination have a real probability,
every other move costs log(tiny) ~ -708.4 (librosa keeps it, not -inf). The best out-of-band
source is always the previous frame's global maximum, so out-of-band moves cost O(1).

Sparsity: a voiced bin without a YIN candidate has observation log(tiny), its unvoiced twin
log((1 - voiced_prob) / n). Unless voiced_prob == 1 exactly, the twin is better by hundreds
while their transitions differ by at most log((1-switch)/switch), so the voiced state can never
be on the best path nor win a max: it is stored as -inf and only candidate bins are computed.
Frames with voiced_prob == 1 (clean tones: librosa's rounding knife-edge) are computed densely.

Tie-breaking copies np.argmax over the source index: the lowest source index wins.
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


@njit(cache=True, nogil=True, error_model="numpy")
def _band_pass(src: np.ndarray, coef_t: np.ndarray, half: int, best: np.ndarray,
               arg: np.ndarray, arg_offset: int) -> None:
    """best[j] = max(best[j], max_k src[k] + coef_t[k - j + half, j]) over |k - j| <= half,
    sources in ascending order (strict >), so ties keep the lowest source."""
    n = best.shape[0]
    for e in range(2 * half + 1):
        d = e - half
        j0 = max(0, -d)
        j1 = min(n, n - d)
        # contiguous slices and a branch-free select let LLVM vectorise this (5x faster)
        s = src[j0 + d: j1 + d]
        r = coef_t[e, j0:j1]
        b = best[j0:j1]
        a = arg[j0:j1]
        k0 = j0 + d + arg_offset
        for i in range(j1 - j0):
            c = s[i] + r[i]
            bi = b[i]
            better = c > bi
            b[i] = c if better else bi
            a[i] = (k0 + i) if better else a[i]


@njit(cache=True, nogil=True, error_model="numpy")
def _sparse_pass(src: np.ndarray, bins: np.ndarray, n_bins: int, coef_src: np.ndarray,
                 half: int, best: np.ndarray, arg: np.ndarray) -> None:
    """_band_pass from the few voiced sources `bins` (ascending) only.
    coef_src[k, e]: log transition from bin k into bin k - half + e."""
    n = best.shape[0]
    for c in range(n_bins):
        k = bins[c]
        sv = src[k]
        e0 = max(0, half - k)
        e1 = min(2 * half + 1, n - k + half)
        r = coef_src[k, e0:e1]
        b = best[k - half + e0: k - half + e1]
        a = arg[k - half + e0: k - half + e1]
        for i in range(e1 - e0):
            v = sv + r[i]
            bi = b[i]
            better = v > bi
            b[i] = v if better else bi
            a[i] = k if better else a[i]


@njit(cache=True, nogil=True)
def _out_of_band(g: int, g_val: float, n: int, half: int, best: np.ndarray,
                 arg: np.ndarray) -> None:
    """Out-of-band move from the global maximum g (value already includes log(tiny))."""
    g_bin = g % n
    for j in range(n):
        if abs(g_bin - j) > half:
            if g_val > best[j] or (g_val == best[j] and g < arg[j]):
                best[j] = g_val
                arg[j] = g


@njit(cache=True, nogil=True)
def _best_sources(v_prev: np.ndarray, prev_dense: bool, prev_bins: np.ndarray, prev_nb: int,
                  from_voiced_t: np.ndarray, from_voiced_src: np.ndarray,
                  from_unvoiced_t: np.ndarray, half: int, g: int, g_val: float,
                  best: np.ndarray, arg: np.ndarray) -> None:
    """best[j], arg[j]: the best predecessor of destination bin j (of one voicing) over every
    state: voiced sources through from_voiced_t / from_voiced_src, unvoiced sources through
    from_unvoiced_t (the stay or switch tables, by the destinations' voicing), then the
    out-of-band move from the global maximum g."""
    n = best.shape[0]
    best[:] = -np.inf
    arg[:] = -1
    if prev_dense:
        _band_pass(v_prev, from_voiced_t, half, best, arg, 0)
    else:
        _sparse_pass(v_prev, prev_bins, prev_nb, from_voiced_src, half, best, arg)
    _band_pass(v_prev[n:], from_unvoiced_t, half, best, arg, n)
    _out_of_band(g, g_val, n, half, best, arg)


@njit(cache=True, nogil=True)
def _point_best(v_prev: np.ndarray, j: int, n: int, half: int, prev_dense: bool,
                prev_bins: np.ndarray, prev_nb: int, stay_dst: np.ndarray,
                switch_dst: np.ndarray, g: int, g_val: float) -> tuple[float, int]:
    """Best predecessor of voiced bin j (voiced sources stay, unvoiced sources switch).
    *_dst[j, e]: log transition into bin j from bin j - half + e."""
    best = -np.inf
    arg = -1
    lo = max(0, j - half)
    hi = min(n - 1, j + half)
    stay_row = stay_dst[j]
    if prev_dense:
        for k in range(lo, hi + 1):
            c = v_prev[k] + stay_row[k - j + half]
            if c > best:
                best = c
                arg = k
    else:
        for c_i in range(prev_nb):
            k = prev_bins[c_i]
            if lo <= k <= hi:
                c = v_prev[k] + stay_row[k - j + half]
                if c > best:
                    best = c
                    arg = k
    switch_row = switch_dst[j]
    for k in range(lo, hi + 1):
        c = v_prev[n + k] + switch_row[k - j + half]
        if c > best:
            best = c
            arg = n + k
    if abs(g % n - j) > half and (g_val > best or (g_val == best and g < arg)):
        best = g_val
        arg = g
    return best, arg


@njit(cache=True, nogil=True)
def viterbi_step(v_prev: np.ndarray, prev_dense: bool, prev_bins: np.ndarray, prev_nb: int,
                 bins: np.ndarray, logp: np.ndarray, nb: int, obs_u: float, dense: bool,
                 tables: tuple, half: int, log_tiny: float, v_out: np.ndarray,
                 ptr_out: np.ndarray, best: np.ndarray, arg: np.ndarray) -> None:
    """One forward step: v_out[s] = obs[s] + max_k (v_prev[k] + log_trans[k, s]).

    prev_dense / dense: whether all voiced states of the previous / this frame are live
    (voiced_prob == 1); otherwise only prev_bins[:prev_nb] / bins[:nb] are. logp: log
    observation of each candidate bin; obs_u: that of every unvoiced bin. tables: the log
    transitions within (stay) and across (switch) voicing in three layouts (see make_tables).
    best, arg: scratch of length n.
    """
    stay_t, switch_t, stay_src, switch_src, stay_dst, switch_dst = tables
    n = best.shape[0]
    g = global_argmax(v_prev)
    g_val = v_prev[g] + log_tiny
    # unvoiced destinations: voiced sources switch, unvoiced sources stay
    _best_sources(v_prev, prev_dense, prev_bins, prev_nb, switch_t, switch_src, stay_t, half, g,
                  g_val, best, arg)
    for j in range(n):
        v_out[n + j] = obs_u + best[j]
        ptr_out[n + j] = arg[j]
    # voiced destinations: voiced sources stay, unvoiced sources switch
    if dense:
        _best_sources(v_prev, prev_dense, prev_bins, prev_nb, stay_t, stay_src, switch_t, half, g,
                      g_val, best, arg)
        for j in range(n):
            v_out[j] = log_tiny + best[j]
            ptr_out[j] = arg[j]
        for c in range(nb):
            j = bins[c]
            v_out[j] = logp[c] + best[j]
    else:
        for j in range(n):
            v_out[j] = -np.inf
            ptr_out[j] = 0
        for c in range(nb):
            j = bins[c]
            b, a = _point_best(v_prev, j, n, half, prev_dense, prev_bins, prev_nb, stay_dst,
                               switch_dst, g, g_val)
            v_out[j] = logp[c] + b
            ptr_out[j] = a


@njit(cache=True, nogil=True)
def viterbi_init(bins: np.ndarray, logp: np.ndarray, nb: int, obs_u: float, dense: bool,
                 log_init: float, log_tiny: float, v_out: np.ndarray) -> None:
    """First frame: v = log_obs + log(p_init)."""
    n = v_out.shape[0] // 2
    for j in range(n):
        v_out[j] = (log_tiny + log_init) if dense else -np.inf
        v_out[n + j] = obs_u + log_init
    for c in range(nb):
        v_out[bins[c]] = logp[c] + log_init


def make_tables(stay: np.ndarray, switch: np.ndarray, half: int) -> tuple:
    """From stay[j, e] / switch[j, e] (log transition into bin j from bin j - half + e; -inf
    outside the pitch range) build (stay_t, switch_t, stay_src, switch_src, stay_dst,
    switch_dst): *_t[e, j] for vectorised passes over destinations, *_src[k, e] (from bin k
    into k - half + e) for passes out of a few sources, *_dst = the input for single bins."""
    n = stay.shape[0]
    out = []
    for coef in (stay, switch):
        coef_t = np.ascontiguousarray(coef.T)
        src = np.full_like(coef, -np.inf)
        for k in range(n):
            for e in range(2 * half + 1):
                j = k - half + e
                if 0 <= j < n:
                    src[k, e] = coef_t[2 * half - e, j]
        out.append((coef_t, src, np.ascontiguousarray(coef)))
    (st, ss, sd), (wt, ws, wd) = out
    return st, wt, ss, ws, sd, wd


@njit(cache=True, nogil=True)
def prune_candidates(cand_bin: np.ndarray, cand_logp: np.ndarray, n_cand: np.ndarray,
                     obs_u: np.ndarray, dense: np.ndarray, margin: float) -> None:
    """Drop candidates that can never be decoded (in place): a voiced bin whose observation is
    below its unvoiced twin's by more than `margin` (twice the largest |stay - switch| log
    transition gap, plus slack) loses to the twin for every predecessor and successor, as a
    candidate-free bin does. Frames with voiced_prob == 1 keep all (they are dense anyway)."""
    for t in range(n_cand.shape[0]):
        if dense[t]:
            continue
        floor = obs_u[t] - margin
        kept = 0
        for c in range(n_cand[t]):
            if cand_logp[t, c] >= floor:
                cand_bin[t, kept] = cand_bin[t, c]
                cand_logp[t, kept] = cand_logp[t, c]
                kept += 1
        n_cand[t] = kept


@njit(cache=True, nogil=True)
def backtrack_state(v: np.ndarray, ptr: np.ndarray, t: int, steps: int) -> int:
    """State of frame t - steps on the best path ending at frame t (ptr rows are t % rows)."""
    s = global_argmax(v)
    rows = ptr.shape[0]
    for u in range(t, t - steps, -1):
        s = int(ptr[u % rows, s])
    return s


@njit(cache=True, nogil=True)
def backtrack_path(v: np.ndarray, ptr: np.ndarray, t: int, count: int) -> np.ndarray:
    """States of frames t - count + 1 .. t on the best path ending at frame t."""
    states = np.empty(count, dtype=np.int64)
    if count == 0:
        return states
    rows = ptr.shape[0]
    s = global_argmax(v)
    states[count - 1] = s
    for i in range(count - 2, -1, -1):
        s = int(ptr[(t - (count - 2 - i)) % rows, s])
        states[i] = s
    return states


@njit(cache=True, nogil=True)
def forward(v: np.ndarray, v_next: np.ndarray, best: np.ndarray, arg: np.ndarray,
            prev_bins: np.ndarray, meta: np.ndarray, cand_bin: np.ndarray,
            cand_logp: np.ndarray, n_cand: np.ndarray, obs_u: np.ndarray, dense: np.ndarray,
            n_frames: int, tables: tuple, half: int, log_tiny: float, log_init: float,
            ptr: np.ndarray, lag: int, renorm: bool, decided: np.ndarray) -> int:
    """Forward Viterbi over the next n_frames frames of a sequence.

    Carries the decoder state across calls: v (2n) values, prev_bins + meta = [previous
    frame's live candidate count, its dense flag, frames done]. Back-pointers of frame t go to
    ptr[t % len(ptr)] (all frames offline, a ring of `lag` rows when streaming). With lag >= 0
    the state of frame t - lag is decided as soon as frame t is in (fixed-lag decoding) and
    written to decided[]; returns how many were. renorm keeps values near 0 on long streams.
    """
    rows = ptr.shape[0]
    n_dec = 0
    for i in range(n_frames):
        t = meta[2]
        nb = n_cand[i]
        if t == 0:
            viterbi_init(cand_bin[i], cand_logp[i], nb, obs_u[i], dense[i], log_init, log_tiny, v)
        else:
            viterbi_step(v, meta[1] != 0, prev_bins, meta[0], cand_bin[i], cand_logp[i], nb,
                         obs_u[i], dense[i], tables, half, log_tiny, v_next, ptr[t % rows],
                         best, arg)
            v[:] = v_next
            if renorm:
                top = v[global_argmax(v)]
                if top < -1e4:
                    v -= top
        prev_bins[:nb] = cand_bin[i, :nb]
        meta[0] = nb
        meta[1] = 1 if dense[i] else 0
        meta[2] = t + 1
        if lag >= 0 and t >= lag:
            decided[n_dec] = backtrack_state(v, ptr, t, lag)
            n_dec += 1
    return n_dec
