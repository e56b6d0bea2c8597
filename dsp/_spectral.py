"""Per-frame spectral features (level, MFCC, centroid, flatness) computed one frame at a time.

Why not librosa's whole-signal functions: ``librosa.feature.mfcc`` clips its dB scale 80 dB below
the loudest frame of the *whole* signal, which a live stream cannot know, and batched FFT/matrix
products may round differently for different batch sizes. Computing each frame alone from its own
samples makes the file path and the live path give identical numbers. The definitions follow librosa
0.11 (periodic Hann window, Slaney mel filters, orthonormal DCT-II) so librosa serves as the test
reference: mfcc = ``librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None))``.
"""
from __future__ import annotations

import functools
import math

import numpy as np
from numba import njit

N_MFCC = 13
N_MELS = 128
LEVEL_FLOOR_DB = -120.0   # level of digital silence; a 16-bit file's noise floor is about -100 dB
_POWER_AMIN = 1e-10       # librosa's amin for power_to_db and spectral_flatness
SHAPE_RANGE_DB = 80.0     # mfcc_shape sees this much of each frame's spectrum below its peak


@njit(cache=True, nogil=True)
def _centroid_flatness(power: np.ndarray, freqs: np.ndarray) -> tuple[float, float]:  # pragma: no cover
    """Spectral centroid (Hz, magnitude-weighted as librosa) and flatness (on power) of one frame."""
    num = 0.0
    den = 0.0
    log_sum = 0.0
    p_sum = 0.0
    n = power.shape[0]
    for i in range(n):
        p = power[i]
        m = math.sqrt(p)
        num += freqs[i] * m
        den += m
        pt = p if p > _POWER_AMIN else _POWER_AMIN
        log_sum += math.log(pt)
        p_sum += pt
    centroid = num / den if den > 0.0 else 0.0
    flatness = math.exp(log_sum / n) / (p_sum / n)
    return centroid, flatness


N_HARMONICS = 8
HARMONIC_FLOOR_DB = -80.0  # a harmonic this far below the note's harmonic energy counts as absent


@njit(cache=True, nogil=True)
def _harmonic_profile(power: np.ndarray, freqs: np.ndarray, f0: float,
                      out: np.ndarray) -> None:  # pragma: no cover
    """The note's timbre relative to its own pitch, written into ``out`` (N_HARMONICS + 3 values).

    Harmonic k's energy is the power within a quarter of f0 of k * f0 (robust to a slightly wrong f0
    and to inharmonicity); ``out[:N]`` is each harmonic's share of the harmonic energy in dB (so
    gain, and a tilt smaller than the gap between harmonics, change little), then
    log2(magnitude centroid / f0) (brightness counted in harmonics), the odd/even balance in dB
    (h3+h5+h7 over h2+h4+h6+h8), and the harmonic share of all energy above f0/2 in dB
    (breath, bow or room noise between the partials). Harmonics above Nyquist are absent (floor).
    """
    n_h = out.shape[0] - 3
    df = freqs[1] - freqs[0]
    nyq = freqs[freqs.shape[0] - 1]
    total = 0.0
    energy = np.zeros(n_h)
    for k in range(n_h):
        centre = (k + 1) * f0
        if centre + 0.25 * f0 > nyq:
            break
        lo = int(math.ceil((centre - 0.25 * f0) / df))
        hi = int(math.floor((centre + 0.25 * f0) / df))
        e = 0.0
        for i in range(max(lo, 0), min(hi, power.shape[0] - 1) + 1):
            e += power[i]
        energy[k] = e
        total += e
    floor = 10.0 ** (HARMONIC_FLOOR_DB / 10.0)
    for k in range(n_h):
        share = energy[k] / total if total > 0.0 else 0.0
        out[k] = 10.0 * math.log10(share) if share > floor else HARMONIC_FLOOR_DB
    num = 0.0
    den = 0.0
    above = 0.0
    start = int(math.ceil(0.5 * f0 / df))
    for i in range(power.shape[0]):
        m = math.sqrt(power[i])
        num += freqs[i] * m
        den += m
        if i >= start:
            above += power[i]
    centroid = num / den if den > 0.0 else f0
    out[n_h] = math.log2(max(centroid, 1e-3) / f0)
    odd = energy[2] + energy[4] + energy[6] if n_h >= 7 else 0.0
    even = energy[1] + energy[3] + energy[5] + (energy[7] if n_h >= 8 else 0.0)
    out[n_h + 1] = 10.0 * math.log10((odd + 1e-12 * total + 1e-30) / (even + 1e-12 * total + 1e-30))
    ratio = total / above if above > 0.0 else 0.0
    out[n_h + 2] = 10.0 * math.log10(ratio) if ratio > floor else HARMONIC_FLOOR_DB


def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II as a matrix (scipy.fft.dct(x, type=2, norm='ortho')[:n_out])."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    d[0] /= math.sqrt(2.0)
    return d


class SpectralFrame:
    """Computes the spectral columns of one analysis frame of ``n_fft`` samples."""

    def __init__(self, sr: int, n_fft: int):
        from librosa.filters import mel  # imported here: librosa is slow to import and only needed once

        self.n_fft = n_fft
        # Periodic Hann, as scipy.signal.get_window("hann", n_fft, fftbins=True) used by librosa.stft.
        self.window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
        self.freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        self.mel_t = np.ascontiguousarray(mel(sr=sr, n_fft=n_fft, n_mels=N_MELS).T.astype(np.float64))
        self.dct = _dct_matrix(N_MFCC, N_MELS)

    def level_db(self, x: np.ndarray) -> float:
        """RMS of the raw (unwindowed) frame in dBFS, floored at LEVEL_FLOOR_DB."""
        ms = float(np.dot(x, x)) / len(x)
        return max(10.0 * math.log10(ms), LEVEL_FLOOR_DB) if ms > 0.0 else LEVEL_FLOOR_DB

    def spectrum(self, x: np.ndarray) -> np.ndarray:
        """Power spectrum |rfft(hann * x)|^2 of one frame."""
        s = np.fft.rfft(x * self.window)
        return s.real * s.real + s.imag * s.imag

    def mfcc(self, power: np.ndarray) -> np.ndarray:
        """13 MFCCs from the power spectrum: Slaney mel (128), 10*log10 with amin 1e-10, DCT-II."""
        mel = power @ self.mel_t
        return self.dct @ (10.0 * np.log10(np.maximum(mel, _POWER_AMIN)))

    def mfcc_shape(self, power: np.ndarray) -> np.ndarray:
        """mfcc1..12 with the mel bands floored SHAPE_RANGE_DB below the frame's strongest band (not at
        an absolute level), so a gain changes none of them."""
        mel = power @ self.mel_t
        floor = max(float(mel.max()) * 10.0 ** (-SHAPE_RANGE_DB / 10.0), _POWER_AMIN * 1e-20)
        return (self.dct @ (10.0 * np.log10(np.maximum(mel, floor))))[1:]

    def centroid_flatness(self, power: np.ndarray) -> tuple[float, float]:
        return _centroid_flatness(power, self.freqs)

    def harmonics(self, power: np.ndarray, f0: float) -> np.ndarray:
        """Timbre relative to the note at ``f0`` Hz (see ``_harmonic_profile``): N_HARMONICS + 3 values."""
        out = np.empty(N_HARMONICS + 3)
        _harmonic_profile(power, self.freqs, float(f0), out)
        return out


@functools.lru_cache(maxsize=8)
def spectral_frame(sr: int, n_fft: int) -> SpectralFrame:
    """Shared (read-only) instance per configuration: the mel filterbank costs more than a short clip."""
    return SpectralFrame(sr, n_fft)
