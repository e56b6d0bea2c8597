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

    def centroid_flatness(self, power: np.ndarray) -> tuple[float, float]:
        return _centroid_flatness(power, self.freqs)


@functools.lru_cache(maxsize=8)
def spectral_frame(sr: int, n_fft: int) -> SpectralFrame:
    """Shared (read-only) instance per configuration: the mel filterbank costs more than a short clip."""
    return SpectralFrame(sr, n_fft)
