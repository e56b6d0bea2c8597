"""Pitch and pitch confidence with probabilistic YIN (pYIN) on numba kernels.

`pyin` is a drop-in for `librosa.pyin` (0.11): same signature, defaults and outputs, the same
arithmetic, at a fraction of the cost. `PitchTracker` runs the same model on a live stream
with fixed-lag Viterbi decoding.

Conventions shared by both:
- frame k is centred on sample k * hop_length (librosa's `center=True`), i.e. at time
  k * hop_length / sr; the stream starts as if preceded by frame_length // 2 zeros.
- voiced_prob ("confidence") is causal: it depends only on the frame's own samples.
- non-finite samples (NaN, inf) raise ValueError, as librosa does; a rejected block leaves a
  PitchTracker unchanged, so a live caller can drop the block and carry on.
"""
from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.fft
import scipy.signal
import scipy.stats

from dsp import _viterbi, _yin

__all__ = ["pyin", "PitchTracker", "PitchFrames", "hz_to_midi"]

_TINY = np.finfo(np.float64).tiny


def hz_to_midi(f0: np.ndarray) -> np.ndarray:
    """MIDI note number (A4 = 69) of frequencies in Hz; NaN stays NaN."""
    return 12.0 * (np.log2(np.asarray(f0, dtype=np.float64)) - np.log2(440.0)) + 69.0


# --------------------------------------------------------------------------- model tables


@dataclass(frozen=True, eq=False)
class _Model:
    """Everything pYIN needs that depends only on the parameters (built once, cached)."""

    sr: float
    fmin: float
    frame_length: int
    hop_length: int
    min_period: int
    max_period: int
    n_pitch_bins: int
    bins_per_octave: int
    thresholds: np.ndarray
    beta_probs: np.ndarray
    beta_head_sums: np.ndarray
    boltz: np.ndarray
    no_trough_prob: float
    freqs: np.ndarray
    half: int
    stay: np.ndarray  # (n, 2*half+1) log transition within voicing into bin j from j-half+e
    switch: np.ndarray  # same across voicing
    log_tiny: float
    log_init: float

    @property
    def n_lags(self) -> int:
        return self.max_period - self.min_period + 1


def _check_params(sr: float, fmin: float, fmax: float, frame_length: int,
                  hop_length: int) -> None:
    if not (np.isfinite(sr) and sr > 0):
        raise ValueError(f"sr={sr} must be a positive number")
    if frame_length < 3 or hop_length < 1:
        raise ValueError(f"frame_length={frame_length} and hop_length={hop_length} are too small")
    if fmax > sr / 2:
        raise ValueError(f"fmax={fmax:.3f} cannot exceed Nyquist frequency {sr / 2}")
    if fmin >= fmax:
        raise ValueError(f"fmin={fmin:.3f} must be less than fmax={fmax:.3f}")
    if fmin <= 0:
        raise ValueError(f"fmin={fmin:.3f} must be strictly positive")
    if sr / fmin >= frame_length - 1:
        raise ValueError(f"fmin={fmin:.3f} is too small for frame_length={frame_length} and "
                         f"sr={sr}; use fmin >= {sr / (frame_length - 1):.3f} or a longer frame")
    if sr / fmin >= frame_length // 2:
        warnings.warn(f"fmin={fmin:.3f} is too small for frame_length={frame_length} and "
                      f"sr={sr}; two periods of fmin do not fit in a frame", stacklevel=3)


def _transition_local(n_states: int, width: int) -> np.ndarray:
    """librosa.sequence.transition_local(n, width, window='triangle', wrap=False), verbatim."""
    win = scipy.signal.get_window("triangle", width, fftbins=False)
    if width > n_states:
        raise ValueError(f"the pitch transition band ({width} bins) is wider than the pitch "
                         f"range ({n_states} bins); lower max_transition_rate")
    lpad = (n_states - width) // 2
    padded = np.pad(win, (lpad, n_states - width - lpad))
    trans = np.zeros((n_states, n_states), dtype=np.float64)
    for i in range(n_states):
        row = np.roll(padded, n_states // 2 + i + 1)
        row[min(n_states, i + width // 2 + 1):] = 0
        row[: max(0, i - width // 2)] = 0
        trans[i] = row
    trans /= trans.sum(axis=1, keepdims=True)
    return trans


@functools.lru_cache(maxsize=16)
def _model(sr: float, fmin: float, fmax: float, frame_length: int, hop_length: int,
           n_thresholds: int, beta_parameters: tuple[float, float], boltzmann_parameter: float,
           resolution: float, max_transition_rate: float, switch_prob: float,
           no_trough_prob: float) -> _Model:
    if n_thresholds < 1:
        raise ValueError(f"n_thresholds={n_thresholds} must be a positive integer")
    if not 0 < resolution < 1:
        raise ValueError(f"resolution={resolution} must be in (0, 1)")
    if not 0 <= switch_prob <= 1:
        raise ValueError(f"switch_prob={switch_prob} must be in [0, 1]")
    if max_transition_rate <= 0 or boltzmann_parameter <= 0:
        raise ValueError("max_transition_rate and boltzmann_parameter must be positive")
    min_period = int(np.floor(sr / fmax))
    max_period = min(int(np.ceil(sr / fmin)), frame_length - 1)

    thresholds = np.linspace(0, 1, n_thresholds + 1)
    beta_cdf = scipy.stats.beta.cdf(thresholds, beta_parameters[0], beta_parameters[1])
    beta_probs = np.diff(beta_cdf)
    # np.sum (pairwise) of each head, exactly as librosa adds the no-trough mass
    beta_head_sums = np.array([np.sum(beta_probs[:m]) for m in range(n_thresholds + 1)])

    # Boltzmann prior of the k-th of n troughs, through scipy exactly as librosa calls it
    max_troughs = (max_period - min_period + 2) // 2 + 1
    n_grid, k_grid = np.meshgrid(np.arange(max_troughs + 1), np.arange(max_troughs + 1),
                                 indexing="ij")
    valid = k_grid < n_grid
    boltz = np.zeros((max_troughs + 1, max_troughs + 1))
    boltz[valid] = scipy.stats.boltzmann.pmf(k_grid[valid], boltzmann_parameter, n_grid[valid])

    bins_per_semitone = int(np.ceil(1.0 / resolution))
    n_pitch_bins = int(np.floor(12 * bins_per_semitone * np.log2(fmax / fmin))) + 1
    freqs = fmin * 2 ** (np.arange(n_pitch_bins) / (12 * bins_per_semitone))

    max_semitones_per_frame = round(max_transition_rate * 12 * hop_length / sr)
    width = max_semitones_per_frame * bins_per_semitone + 1
    trans = _transition_local(n_pitch_bins, width)
    p_stay = 1 - switch_prob  # librosa.sequence.transition_loop(2, 1 - switch_prob)
    p_switch = (1.0 - p_stay) / 1
    half = width // 2
    stay = np.full((n_pitch_bins, 2 * half + 1), -np.inf)
    switch = np.full((n_pitch_bins, 2 * half + 1), -np.inf)
    for j in range(n_pitch_bins):
        lo, hi = max(0, j - half), min(n_pitch_bins - 1, j + half)
        col = trans[lo:hi + 1, j]
        stay[j, lo - j + half: hi - j + half + 1] = np.log(p_stay * col + _TINY)
        switch[j, lo - j + half: hi - j + half + 1] = np.log(p_switch * col + _TINY)
    log_tiny = float(np.log(np.zeros(1) + _TINY)[0])
    p_init = np.ones(2 * n_pitch_bins) / (2 * n_pitch_bins)
    log_init = float(np.log(p_init + _TINY)[0])
    return _Model(float(sr), float(fmin), frame_length, hop_length, min_period, max_period,
                  n_pitch_bins, 12 * bins_per_semitone, thresholds, beta_probs, beta_head_sums,
                  boltz, float(no_trough_prob), freqs, half, stay, switch, log_tiny, log_init)


# --------------------------------------------------------------------------- frame analysis


class _Analyser:
    """YIN + candidate probabilities for a batch of frames, with reusable scratch space."""

    def __init__(self, m: _Model):
        self.m = m
        n = m.n_lags
        self.yin = np.empty(n)
        self.trough_idx = np.empty(n, dtype=np.int64)
        self.trough_prob = np.empty(n)
        self.below = np.empty((n, m.beta_probs.shape[0]), dtype=np.bool_)
        self.n_fft = scipy.fft.next_fast_len(2 * m.frame_length - 1, real=True)

    def analyse(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """frames (T, frame_length) float64 -> (obs_v (T, n) log, obs_u (T,) log, voiced_prob)."""
        m = self.m
        n_frames = frames.shape[0]
        spec = np.fft.rfft(frames, n=self.n_fft, axis=1)
        acf = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, n=self.n_fft, axis=1)
        acf = np.ascontiguousarray(acf[:, : m.max_period + 1])
        cand_bin = np.zeros((n_frames, m.n_lags), dtype=np.int64)
        cand_prob = np.zeros((n_frames, m.n_lags))
        n_cand = np.zeros(n_frames, dtype=np.int64)
        vp = np.zeros(n_frames)
        for t in range(n_frames):
            _yin.cmndf_from_acf(frames[t], acf[t], m.min_period, m.max_period, self.yin)
            n_cand[t], vp[t] = _yin.frame_candidates(
                self.yin, m.thresholds, m.beta_probs, m.beta_head_sums, m.boltz,
                m.no_trough_prob, m.min_period, m.sr, m.fmin, m.n_pitch_bins,
                m.bins_per_octave, self.trough_idx, self.trough_prob, self.below,
                cand_bin[t], cand_prob[t])
        obs_v = np.full((n_frames, m.n_pitch_bins), m.log_tiny)
        rows = np.repeat(np.arange(n_frames), n_cand)
        cols = np.concatenate([cand_bin[t, : n_cand[t]] for t in range(n_frames)]) \
            if n_frames else np.zeros(0, dtype=np.int64)
        probs = np.concatenate([cand_prob[t, : n_cand[t]] for t in range(n_frames)]) \
            if n_frames else np.zeros(0)
        obs_v[rows, cols] = np.log(probs + _TINY)
        obs_u = np.log((1 - vp) / m.n_pitch_bins + _TINY)
        return obs_v, obs_u, vp


def _as_audio(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"audio must be floating point, got {y.dtype}")
    if not np.isfinite(y).all():
        raise ValueError("audio contains NaN or infinite samples")
    return y


def _frame_view(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    n_frames = 1 + (y.shape[0] - frame_length) // hop_length
    return np.lib.stride_tricks.as_strided(
        y, shape=(n_frames, frame_length), strides=(y.strides[0] * hop_length, y.strides[0]),
        writeable=False)


# --------------------------------------------------------------------------- offline


def pyin(y: np.ndarray, *, fmin: float, fmax: float, sr: float = 22050,
         frame_length: int = 2048, hop_length: int | None = None, n_thresholds: int = 100,
         beta_parameters: tuple[float, float] = (2, 18), boltzmann_parameter: float = 2,
         resolution: float = 0.1, max_transition_rate: float = 35.92,
         switch_prob: float = 0.01, no_trough_prob: float = 0.01,
         fill_na: float | None = np.nan, center: bool = True, pad_mode: str = "constant",
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fundamental frequency with pYIN; same parameters and outputs as `librosa.pyin` 0.11.

    Returns (f0 in Hz, voiced_flag, voiced_prob), each shaped (..., n_frames) for y shaped
    (..., n). Unvoiced f0 is `fill_na`; with fill_na=None it is the decoded (best-guess) pitch.
    librosa's deprecated `win_length` is not accepted. Non-finite or non-float audio raises
    ValueError; so does a signal shorter than a frame when center=False.
    """
    if fmin is None or fmax is None:
        raise ValueError('both "fmin" and "fmax" must be provided')
    if hop_length is None:
        hop_length = frame_length // 4
    _check_params(sr, fmin, fmax, frame_length, hop_length)
    y = _as_audio(y)
    if y.ndim == 0:
        raise ValueError("audio must be at least one-dimensional")
    m = _model(float(sr), float(fmin), float(fmax), int(frame_length), int(hop_length),
               int(n_thresholds), tuple(float(b) for b in beta_parameters),
               float(boltzmann_parameter), float(resolution), float(max_transition_rate),
               float(switch_prob), float(no_trough_prob))
    if y.ndim > 1:
        outs = [pyin_channel(ch, m, fill_na, center, pad_mode) for ch in y.reshape(-1, y.shape[-1])]
        return tuple(np.stack([o[i] for o in outs]).reshape(y.shape[:-1] + (-1,))
                     for i in range(3))  # type: ignore[return-value]
    return pyin_channel(y, m, fill_na, center, pad_mode)


def pyin_channel(y: np.ndarray, m: _Model, fill_na: float | None, center: bool,
                 pad_mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if center:
        y = np.pad(y, (m.frame_length // 2, m.frame_length // 2), mode=pad_mode)
    if y.shape[0] < m.frame_length:
        raise ValueError(f"signal of {y.shape[0]} samples is shorter than a frame "
                         f"({m.frame_length}); use center=True or a shorter frame")
    y64 = np.ascontiguousarray(y, dtype=np.float64)
    frames = _frame_view(y64, m.frame_length, m.hop_length)
    obs_v, obs_u, vp = _Analyser(m).analyse(frames)
    states = _viterbi.viterbi_offline(obs_v, obs_u, m.log_init, m.stay, m.switch, m.half,
                                      m.log_tiny)
    voiced = states < m.n_pitch_bins
    f0 = m.freqs[states % m.n_pitch_bins]
    if fill_na is not None:
        f0[~voiced] = fill_na
    return f0, voiced, vp


# --------------------------------------------------------------------------- streaming


@dataclass(frozen=True)
class PitchFrames:
    """Frames a PitchTracker completed, oldest first; every field has shape (n,).

    index:      frame number since the start of the stream (0, 1, ...)
    times:      frame centre in seconds, index * hop_length / sr (librosa's center=True grid)
    f0:         decoded pitch in Hz, NaN where unvoiced (pyin's default fill_na)
    best_f0:    decoded pitch bin in Hz even where unvoiced (pyin with fill_na=None)
    midi:       MIDI pitch of best_f0 (always finite)
    confidence: voiced probability 0..1 (pyin's voiced_prob)
    voiced:     voicing decision, bool
    """

    index: np.ndarray
    times: np.ndarray
    f0: np.ndarray
    best_f0: np.ndarray
    midi: np.ndarray
    confidence: np.ndarray
    voiced: np.ndarray

    def __len__(self) -> int:
        return int(self.index.shape[0])

    @staticmethod
    def empty() -> "PitchFrames":
        z = np.zeros(0)
        return PitchFrames(np.zeros(0, dtype=np.int64), z, z, z, z, z, np.zeros(0, dtype=bool))


class PitchTracker:
    """Streaming pYIN: push audio blocks of any length, get the frames completed so far.

    The stream is analysed exactly as `pyin(whole_stream, center=True)` would (left zero
    padding of frame_length // 2, same frames, same voiced_prob); only the Viterbi decoding
    differs: frame k is decided once frame k + lag has been seen (fixed-lag decoding), so
    frames come out lag frames (lag * hop_length / sr s) after their samples are complete.
    `flush()` ends the stream like pyin's right padding and decodes the last frames exactly.
    Memory is bounded: a few frames of audio and `lag` rows of back-pointers.
    """

    def __init__(self, sr: float = 22050, fmin: float = 65.40639132514966,
                 fmax: float = 2093.004522404789, frame_length: int = 2048,
                 hop_length: int | None = None, lag: int = 8, *, n_thresholds: int = 100,
                 beta_parameters: tuple[float, float] = (2, 18),
                 boltzmann_parameter: float = 2, resolution: float = 0.1,
                 max_transition_rate: float = 35.92, switch_prob: float = 0.01,
                 no_trough_prob: float = 0.01):
        if hop_length is None:
            hop_length = frame_length // 4
        if lag < 0:
            raise ValueError(f"lag={lag} must be >= 0")
        _check_params(sr, fmin, fmax, frame_length, hop_length)
        self.sr = float(sr)
        self.frame_length = int(frame_length)
        self.hop_length = int(hop_length)
        self.lag = int(lag)
        self._m = _model(float(sr), float(fmin), float(fmax), int(frame_length),
                         int(hop_length), int(n_thresholds),
                         tuple(float(b) for b in beta_parameters), float(boltzmann_parameter),
                         float(resolution), float(max_transition_rate), float(switch_prob),
                         float(no_trough_prob))
        self._analyser = _Analyser(self._m)
        n2 = 2 * self._m.n_pitch_bins
        self._v = np.empty(n2)
        self._v_next = np.empty(n2)
        self._ptr = np.zeros((max(self.lag, 1), n2), dtype=np.uint16)  # ring, row t % lag
        self._vp = np.zeros(self.lag + 1)  # ring, row t % (lag + 1)
        self.reset()

    @property
    def latency(self) -> float:
        """Seconds from a frame's centre to when push() returns it (half a frame + lag hops)."""
        return (self.frame_length // 2 + self.lag * self.hop_length) / self.sr

    def reset(self) -> None:
        """Start a new stream."""
        self._buf = np.zeros(self.frame_length // 2)  # left padding, as center=True
        self._n_done = 0  # frames analysed (forward Viterbi done)
        self._n_out = 0  # frames returned

    def push(self, block: np.ndarray) -> PitchFrames:
        """Add samples; returns the frames decided by this block (possibly none)."""
        block = np.asarray(block)
        if block.ndim != 1:
            raise ValueError(f"block must be one-dimensional, got shape {block.shape}")
        if block.size and not np.issubdtype(block.dtype, np.floating):
            raise ValueError(f"audio must be floating point, got {block.dtype}")
        if not np.isfinite(block).all():
            raise ValueError("audio contains NaN or infinite samples")
        self._buf = np.concatenate([self._buf, block.astype(np.float64, copy=False)])
        return self._advance(final=False)

    def flush(self) -> PitchFrames:
        """End the stream: pad like center=True, decode the remaining frames; then reset."""
        self._buf = np.concatenate([self._buf, np.zeros(self.frame_length // 2)])
        out = self._advance(final=True)
        self.reset()
        return out

    # -- internals

    def _advance(self, final: bool) -> PitchFrames:
        m = self._m
        n = m.n_pitch_bins
        n_new = 0
        if self._buf.shape[0] >= m.frame_length:
            n_new = 1 + (self._buf.shape[0] - m.frame_length) // m.hop_length
        decided_idx: list[int] = []
        decided_state: list[int] = []
        decided_conf: list[float] = []
        if n_new:
            frames = _frame_view(self._buf, m.frame_length, m.hop_length)
            obs_v, obs_u, vp = self._analyser.analyse(frames)
            self._buf = self._buf[n_new * m.hop_length:].copy()
            for i in range(n_new):
                t = self._n_done
                if t == 0:
                    self._v[:n] = obs_v[i] + m.log_init
                    self._v[n:] = obs_u[i] + m.log_init
                else:
                    ptr_row = self._ptr[t % self.lag] if self.lag else self._ptr[0]
                    _viterbi.viterbi_step(self._v, obs_v[i], obs_u[i], m.stay, m.switch,
                                          m.half, m.log_tiny, self._v_next, ptr_row)
                    self._v, self._v_next = self._v_next, self._v
                    top = self._v.max()
                    if top < -1e4:  # keep the log values in a precise range on long streams
                        self._v -= top
                self._vp[t % (self.lag + 1)] = vp[i]
                self._n_done = t + 1
                if t - self.lag >= 0 and t - self.lag >= self._n_out:
                    s = self._backtrack(t, self.lag)
                    decided_idx.append(t - self.lag)
                    decided_state.append(s)
                    decided_conf.append(self._vp[(t - self.lag) % (self.lag + 1)])
                    self._n_out = t - self.lag + 1
        if final and self._n_done > self._n_out:
            t = self._n_done - 1
            s = _viterbi.global_argmax(self._v)
            tail = [s]
            for u in range(t, self._n_out, -1):
                s = int(self._ptr[u % self.lag][s])
                tail.append(s)
            tail.reverse()
            decided_idx.extend(range(self._n_out, self._n_done))
            decided_state.extend(tail)
            decided_conf.extend(self._vp[u % (self.lag + 1)] for u in range(self._n_out, self._n_done))
            self._n_out = self._n_done
        return self._frames(decided_idx, decided_state, decided_conf)

    def _backtrack(self, t: int, steps: int) -> int:
        s = _viterbi.global_argmax(self._v)
        for u in range(t, t - steps, -1):
            s = int(self._ptr[u % self.lag][s])
        return s

    def _frames(self, idx: list[int], states: list[int], conf: list[float]) -> PitchFrames:
        if not idx:
            return PitchFrames.empty()
        m = self._m
        index = np.asarray(idx, dtype=np.int64)
        st = np.asarray(states, dtype=np.int64)
        voiced = st < m.n_pitch_bins
        best = m.freqs[st % m.n_pitch_bins]
        f0 = np.where(voiced, best, np.nan)
        return PitchFrames(index, index * (m.hop_length / m.sr), f0, best, hz_to_midi(best),
                           np.asarray(conf, dtype=np.float64), voiced)
