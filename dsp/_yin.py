"""YIN kernels for pYIN: difference function, parabolic shifts, candidate probabilities.

Private to dsp.pitch. Everything reproduces librosa 0.11's `pyin` arithmetic in float64: its
difference function is `2*(acf[0]-acf[k]) - cumsum(y**2)[k-1]` with the cumsum's first entry
zeroed (so d[1] = 2*(acf[0]-acf[1])), not the textbook one; candidate probabilities, bins and
voiced_prob are summed in librosa's order, because pyin's Viterbi later compares them exactly
(voiced_prob == 1 is a knife-edge). The autocorrelation itself comes from short FFTs per hop
(`frame_spectra`), so float64 results equal librosa's to rounding (~1e-16), float32 input to
librosa's float32 rounding (~1e-7).
"""
from __future__ import annotations

import numpy as np
from numba import njit

TINY64 = np.finfo(np.float64).tiny


@njit(cache=True, nogil=True)
def cmndf_from_acf(frame: np.ndarray, acf: np.ndarray, min_period: int, max_period: int,
                   out: np.ndarray) -> None:
    """Cumulative mean normalised difference of one frame, lags min_period..max_period.

    `acf[k]` is the frame's autocorrelation at lag k (k = 0..max_period). `out` gets
    max_period - min_period + 1 values. float64 throughout.
    """
    # energy cumsum, needed up to index max_period - 1
    energy = 0.0
    csum = 0.0  # running sum of d[1..k] for the cumulative mean
    a0 = acf[0]
    for k in range(1, max_period + 1):
        # librosa zeroes the energy cumsum's first entry before using it, so d[1] = 2*(a0-a1)
        x = frame[k - 1]
        energy += x * x
        d = 2.0 * (a0 - acf[k]) - (energy if k > 1 else 0.0)
        csum += d
        if k >= min_period:
            out[k - min_period] = d / (csum / k + TINY64)
    if min_period == 0:  # d[0] = 0 and its "mean" is 0/0 in librosa; unreachable for valid fmax
        out[0] = 0.0


@njit(cache=True, nogil=True)
def parabolic_shift(x: np.ndarray, i: int) -> float:
    """librosa's parabolic-interpolation offset at bin i (0 at the edges or when |b| >= |a|)."""
    n = x.shape[0]
    if i == 0 or i == n - 1:
        return 0.0
    a = x[i + 1] + x[i - 1] - 2.0 * x[i]
    b = (x[i + 1] - x[i - 1]) / 2.0
    if abs(b) >= abs(a):
        return 0.0
    return -b / a


@njit(cache=True, nogil=True)
def frame_candidates(yin: np.ndarray, thresholds: np.ndarray, beta_probs: np.ndarray,
                     beta_head_sums: np.ndarray, boltz: np.ndarray, no_trough_prob: float,
                     min_period: int, sr: float, fmin: float, n_pitch_bins: int,
                     bins_per_octave: int, trough_idx: np.ndarray, trough_prob: np.ndarray,
                     first_thr: np.ndarray, cand_bin: np.ndarray, cand_prob: np.ndarray
                     ) -> tuple[int, float]:
    """pYIN candidates of one frame (librosa's `__pyin_helper` for a single column).

    Writes the distinct pitch bins with a non-zero probability into cand_bin/cand_prob in
    ascending bin order and returns (count, voiced_prob). Scratch arrays of len(yin):
    trough_idx, trough_prob, first_thr.
    boltz[n, k] = Boltzmann pmf of the k-th of n troughs; beta_head_sums[m] = sum(beta_probs[:m]).
    """
    n = yin.shape[0]
    n_thr = beta_probs.shape[0]
    # 1. troughs (librosa.util.localmin, plus the first bin if it is below the second)
    nt = 0
    for i in range(n):
        if i == 0:
            is_t = n > 1 and yin[0] < yin[1]
        elif i == n - 1:
            is_t = yin[i] < yin[i - 1]
        else:
            is_t = yin[i] < yin[i - 1] and yin[i] <= yin[i + 1]
        if is_t:
            trough_idx[nt] = i
            nt += 1
    if nt == 0:
        return 0, 0.0
    # 2. trough t is below threshold i (thresholds[i + 1]) for every i >= first_thr[t]
    g = 0
    for t in range(nt):
        h = yin[trough_idx[t]]
        f = n_thr
        while f > 0 and h < thresholds[f]:
            f -= 1
        first_thr[t] = f
        trough_prob[t] = 0.0
        if h < yin[trough_idx[g]]:
            g = t
    # prior of trough t at threshold i: Boltzmann pmf of its rank among the count[i] troughs
    # below i; probs[t] = sum_i prior[t, i] * beta_probs[i], accumulated in threshold order.
    # Walking troughs in period order, rank[i] counts the earlier ones below threshold i.
    count = np.zeros(n_thr + 1, dtype=np.int64)
    for t in range(nt):
        count[first_thr[t]] += 1
    for i in range(1, n_thr + 1):
        count[i] += count[i - 1]
    rank = np.zeros(n_thr, dtype=np.int64)
    for t in range(nt):
        acc = 0.0
        for i in range(first_thr[t], n_thr):
            acc += boltz[count[i], rank[i]] * beta_probs[i]
            rank[i] += 1
        trough_prob[t] = acc
    # 3. the global minimum gets the no-trough mass of the thresholds it is not below
    trough_prob[g] += no_trough_prob * beta_head_sums[first_thr[g]]
    # 4. map troughs to pitch bins; ascending period = descending bin, and when two troughs
    # share a bin librosa keeps the later (longer period) one. Emit in ascending bin order.
    n_c = 0
    for t in range(nt - 1, -1, -1):
        p = trough_prob[t]
        if p == 0.0:
            continue
        i = trough_idx[t]
        period = (min_period + i) + parabolic_shift(yin, i)
        f0 = sr / period
        b = np.round(bins_per_octave * np.log2(f0 / fmin))
        if b < 0.0:
            b = 0.0
        bi = int(b)
        if bi >= n_pitch_bins:  # librosa clips to n_pitch_bins, i.e. out of the voiced range
            continue
        if n_c > 0 and cand_bin[n_c - 1] == bi:
            continue  # an earlier-visited (longer period) trough already owns this bin
        cand_bin[n_c] = bi
        cand_prob[n_c] = p
        n_c += 1
    vp = 0.0
    for c in range(n_c):
        vp += cand_prob[c]
    return n_c, min(max(vp, 0.0), 1.0)


@njit(cache=True, nogil=True)
def analyse_frames(frames: np.ndarray, acf: np.ndarray, min_period: int, max_period: int,
                   thresholds: np.ndarray, beta_probs: np.ndarray, beta_head_sums: np.ndarray,
                   boltz: np.ndarray, no_trough_prob: float, sr: float, fmin: float,
                   n_pitch_bins: int, bins_per_octave: int, cand_bin: np.ndarray,
                   cand_prob: np.ndarray, n_cand: np.ndarray, voiced_prob: np.ndarray) -> None:
    """CMNDF and candidates for every frame (row) of `frames`, given each frame's ACF."""
    n_lags = max_period - min_period + 1
    yin = np.empty(n_lags)
    trough_idx = np.empty(n_lags, dtype=np.int64)
    trough_prob = np.empty(n_lags)
    first_thr = np.empty(n_lags, dtype=np.int64)
    for t in range(frames.shape[0]):
        cmndf_from_acf(frames[t], acf[t], min_period, max_period, yin)
        n_cand[t], voiced_prob[t] = frame_candidates(
            yin, thresholds, beta_probs, beta_head_sums, boltz, no_trough_prob, min_period,
            sr, fmin, n_pitch_bins, bins_per_octave, trough_idx, trough_prob, first_thr,
            cand_bin[t], cand_prob[t])


@njit(cache=True, nogil=True)
def frame_spectra(x: np.ndarray, n_frames: int, blocks_per_frame: int, phase: np.ndarray,
                  out: np.ndarray) -> None:
    """Spectrum of each frame's autocorrelation from its hop-blocks' spectra x (B, K).

    out[k] = sum of |x_i|^2 over the frame's blocks i + sum over block pairs (i, i + j),
    j = 1..len(phase)-1, of conj(x_i) * x_{i+j} * phase[j] (phase[j] delays block i + j by
    j hops). Per-block products are computed once, then summed per frame.
    """
    n_blocks, n_bins = x.shape
    reach = phase.shape[0] - 1
    # terms[j, i] = block i's product with block i + j, re/im interleaved so that the
    # per-frame sums below run over contiguous float arrays (vectorised)
    terms = np.zeros((reach + 1, n_blocks, 2 * n_bins))
    for i in range(n_blocks):
        for f in range(n_bins):
            terms[0, i, 2 * f] = x[i, f].real * x[i, f].real + x[i, f].imag * x[i, f].imag
    for j in range(1, reach + 1):
        for i in range(n_blocks - j):
            for f in range(n_bins):
                c = np.conj(x[i, f]) * x[i + j, f] * phase[j, f]
                terms[j, i, 2 * f] = c.real
                terms[j, i, 2 * f + 1] = c.imag
    acc = np.empty(2 * n_bins)
    for k in range(n_frames):
        acc[:] = 0.0
        for j in range(reach + 1):
            for i in range(k, k + blocks_per_frame - j):
                t = terms[j, i]
                for q in range(2 * n_bins):
                    acc[q] += t[q]
        for f in range(n_bins):
            out[k, f] = complex(acc[2 * f], acc[2 * f + 1])
