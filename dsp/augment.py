"""Training-time augmentation: new recordings of the same notes, as other microphones and rooms would make them.

Why: a user's microphone, room and instrument always differ from the clips they trained on. A model
that has only seen one recording chain learns that chain (its tilt, its bandwidth, its noise floor)
as much as the instrument. Each copy made here keeps the label and the note (pitch moves at most a
few cents) and changes what a different recording would change:

- **gain** (-24..0 dB): features are level-invariant, but the level gate decides which frames count;
- **EQ tilt** (-4..+4 dB per octave around 1 kHz) and **band limits** (a high-pass at 40-250 Hz, a
  low-pass at 3-9 kHz): microphones, their placement, cheap interfaces, phone recordings;
- **noise** at a realistic SNR (15-45 dB, white or pink): fans, preamp hiss, rooms;
- **room reverberation**: an exponentially decaying noise tail (RT60 0.15-1.0 s) mixed with the
  dry sound, so notes blur into the next frames as in a real room;
- **detuning** (+-30 cents): another instrument's tuning, or a resampled file.

Every transformation is drawn from a ``numpy`` generator seeded by ``(seed, key, copy)``, so the
same clip, seed and copy number give the same audio bit for bit, whatever order clips come in.
``benchmarks/bench_generalise.py`` measures which transformations matter.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["AugmentSettings", "augment", "augmented_copies", "TRANSFORMS"]

TRANSFORMS = ("gain", "tilt", "band", "noise", "reverb", "detune")


@dataclass(frozen=True)
class AugmentSettings:
    """How many copies per clip and which transformations (all on by default).

    Parameters
    ----------
    copies : int
        Augmented copies made of each clip (the original is kept too).
    transforms : tuple of str
        A subset of ``TRANSFORMS``.
    seed : int
        Seed of every random draw (with the clip's key and the copy number).
    """

    copies: int = 3
    transforms: tuple[str, ...] = TRANSFORMS
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "transforms", tuple(self.transforms))
        unknown = [t for t in self.transforms if t not in TRANSFORMS]
        if unknown:
            raise ValueError(f"augmentation: unknown transformation(s) {unknown}; choose from {', '.join(TRANSFORMS)}")
        if isinstance(self.copies, bool) or not isinstance(self.copies, int) or not 0 <= self.copies <= 32:
            raise ValueError(f"augmentation: copies must be an integer in 0..32, got {self.copies!r}")

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v) for f in fields(self)}


def augment(y: np.ndarray, sr: int, rng: np.random.Generator,
            transforms: tuple[str, ...] = TRANSFORMS) -> np.ndarray:
    """One augmented copy of a mono clip.

    Parameters
    ----------
    y : np.ndarray
        Mono audio, float.
    sr : int
        Its sample rate in Hz.
    rng : np.random.Generator
        Source of every random choice (seed it for a reproducible copy).
    transforms : tuple of str
        Which of ``TRANSFORMS`` to apply.

    Returns
    -------
    np.ndarray
        float64 audio at ``sr`` (a little longer when reverberated, a little shorter or longer when
        detuned).
    """
    x = np.asarray(y, dtype=np.float64)
    # Draw every parameter first, in a fixed order, so switching one transformation off does not
    # change the others' draws (an ablation then compares like with like).
    cents = rng.uniform(-30.0, 30.0)
    tilt = rng.uniform(-4.0, 4.0)
    hp, lp = rng.uniform(40.0, 250.0), rng.uniform(3000.0, 9000.0)
    use_hp, use_lp = rng.random() < 0.5, rng.random() < 0.5
    rt60, wet = rng.uniform(0.15, 1.0), rng.uniform(0.1, 0.5)
    use_reverb = rng.random() < 0.6
    snr, pink = rng.uniform(15.0, 45.0), rng.random() < 0.5
    use_noise = rng.random() < 0.6
    gain_db = rng.uniform(-24.0, 0.0)
    noise_seed, reverb_seed = rng.integers(1 << 32), rng.integers(1 << 32)

    if "detune" in transforms:
        x = _resample(x, 2.0 ** (-cents / 1200.0))   # fewer samples per cycle = higher pitch
    if "reverb" in transforms and use_reverb:
        x = _reverberate(x, sr, rt60, wet, np.random.default_rng(noise_seed ^ reverb_seed))
    shape = np.ones(x.shape[0] // 2 + 1)
    f = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    if "tilt" in transforms:
        shape *= 10.0 ** (tilt * np.log2(np.maximum(f, 20.0) / 1000.0) / 20.0)
    if "band" in transforms:
        if use_hp:     # 4th-order Butterworth magnitudes
            shape /= np.sqrt(1.0 + (hp / np.maximum(f, 1e-3)) ** 8)
        if use_lp:
            shape /= np.sqrt(1.0 + (f / lp) ** 8)
    if not np.all(shape == 1.0):
        x = np.fft.irfft(np.fft.rfft(x) * shape, n=x.shape[0])
    if "noise" in transforms and use_noise:
        x = x + _noise(x, sr, snr, pink, np.random.default_rng(noise_seed))
    if "gain" in transforms:
        x = x * 10.0 ** (gain_db / 20.0)
    return x


def augmented_copies(y: np.ndarray, sr: int, key: str, settings: AugmentSettings) -> list[np.ndarray]:
    """``settings.copies`` augmented copies of one clip, reproducible from (seed, key, copy number).

    Parameters
    ----------
    y : np.ndarray
        Mono audio of the clip.
    sr : int
        Its sample rate.
    key : str
        A stable name of the clip (e.g. its clip id), so its copies do not depend on clip order.
    settings : AugmentSettings
        Copies, transformations and seed.

    Returns
    -------
    list of np.ndarray
        The copies, in copy order.
    """
    h = zlib.crc32(key.encode("utf-8"))
    return [augment(y, sr, np.random.default_rng([settings.seed, h, i]), settings.transforms)
            for i in range(settings.copies)]


def _resample(x: np.ndarray, ratio: float) -> np.ndarray:
    """Read ``x`` at ``1/ratio`` times its speed (linear interpolation is enough for +-30 cents)."""
    n = max(int(round(x.shape[0] * ratio)), 1)
    pos = np.arange(n) / ratio
    return np.interp(pos, np.arange(x.shape[0]), x)


def _reverberate(x: np.ndarray, sr: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Dry plus an exponentially decaying noise tail (-60 dB after ``rt60`` s), the wet part scaled to
    ``wet`` of the dry energy."""
    from scipy.signal import fftconvolve

    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * 10.0 ** (-3.0 * t / rt60)
    ir[: int(0.005 * sr)] = 0.0                    # a few ms before the first reflections
    tail = fftconvolve(x, ir)
    dry_e, tail_e = float(np.dot(x, x)), float(np.dot(tail, tail))
    if tail_e <= 0.0 or dry_e <= 0.0:
        return x
    out = tail * np.sqrt(wet * dry_e / tail_e)
    out[: x.shape[0]] += x
    return out


def _noise(x: np.ndarray, sr: int, snr_db: float, pink: bool, rng: np.random.Generator) -> np.ndarray:
    """Noise ``snr_db`` below the clip's loud part (its 90th-percentile 10 ms RMS), white or pink."""
    n = x.shape[0]
    noise = rng.standard_normal(n)
    if pink:
        spec = np.fft.rfft(noise)
        f = np.fft.rfftfreq(n, 1.0 / sr)
        spec /= np.sqrt(np.maximum(f, 20.0))
        noise = np.fft.irfft(spec, n=n)
    blk = max(sr // 100, 1)
    m = n // blk
    if m == 0:
        return np.zeros(n)
    rms = np.sqrt(np.mean(x[: m * blk].reshape(m, blk) ** 2, axis=1))
    signal = float(np.percentile(rms, 90))
    if signal <= 0.0:
        return np.zeros(n)
    noise *= signal * 10.0 ** (-snr_db / 20.0) / (float(np.sqrt(np.mean(noise ** 2))) + 1e-30)
    return noise
