"""Decode audio files to mono float32 at a chosen rate, and write recordings atomically.

Decoding is libsndfile (through soundfile): WAV/WAVEX/RF64/W64, FLAC, OGG Vorbis and Opus, MP3,
AIFF/AIFC, CAF, AU. Channels are averaged to mono; any rate libsndfile reports (tested 8 kHz to
192 kHz) is converted with soxr's high-quality resampler. Every failure a user can cause (missing,
empty, corrupt, truncated, unsupported or unreadable file) raises ``AudioFileError`` whose message
names the file and the reason, so callers can list failures without a traceback.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

__all__ = ["AudioFileError", "SUPPORTED_EXTENSIONS", "load", "save_wav", "is_audio_file"]

# Lower-case suffixes that folder scans pick up and load() accepts.
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset({
    ".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3",
    ".aif", ".aiff", ".aifc", ".caf", ".au", ".w64", ".rf64",
})


class AudioFileError(ValueError):
    """A file could not be turned into audio; ``str(err)`` is ``"<path>: <reason>"``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def is_audio_file(path: str | os.PathLike) -> bool:
    """True if ``path``'s suffix is one load() accepts (case-insensitive); the file is not opened."""
    return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS


def load(path: str | os.PathLike, sr: int = 22050) -> np.ndarray:
    """Decode ``path`` to a mono float32 array at ``sr`` Hz (channels averaged, resampled with soxr)."""
    p = Path(path)
    if sr <= 0:
        raise ValueError(f"sample rate must be positive, got {sr}")
    _check_file(p)
    try:
        with sf.SoundFile(str(p)) as f:
            file_sr = f.samplerate
            data = f.read(dtype="float32", always_2d=True)
    except sf.LibsndfileError as e:
        raise AudioFileError(p, f"not a readable audio file or corrupt ({_sndfile_reason(e)})") from None
    except (RuntimeError, EOFError, OSError) as e:  # truncated or damaged data after a valid header
        raise AudioFileError(p, f"corrupt audio data ({e})") from None
    if data.shape[0] == 0:
        raise AudioFileError(p, "contains no audio samples")
    y = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float64).astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:
        raise AudioFileError(p, f"contains {bad} NaN or infinite samples")
    if file_sr != sr:
        y = soxr.resample(y, file_sr, sr, quality="HQ")
    return np.ascontiguousarray(y, dtype=np.float32)


def save_wav(path: str | os.PathLike, y: np.ndarray, sr: int, subtype: str = "FLOAT") -> Path:
    """Write mono (n,) or multichannel (n, ch) audio to a WAV file atomically; returns the path.

    The data goes to a temporary file in the same folder which then replaces ``path`` in one step,
    so a crash or full disk never leaves a half-written recording under the real name. The default
    32-bit float keeps exactly the samples that were analysed; use ``subtype="PCM_16"`` for size.
    """
    p = Path(path)
    a = np.asarray(y)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise ValueError(f"{p}: expected a non-empty (n,) or (n, channels) array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{p}: refusing to write NaN or infinite samples")
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            sf.write(fh, a, int(sr), subtype=subtype, format="WAV")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return p


def _check_file(p: Path) -> None:
    """Reasons found without decoding, in the order a user would want to hear them."""
    if not p.exists():
        raise AudioFileError(p, "file not found")
    if p.is_dir():
        raise AudioFileError(p, "is a folder, not an audio file")
    if not is_audio_file(p):
        raise AudioFileError(p, f"unsupported file type '{p.suffix or '(none)'}' "
                                f"(supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))})")
    if not os.access(p, os.R_OK):
        raise AudioFileError(p, "cannot be read (permission denied)")
    if p.stat().st_size == 0:
        raise AudioFileError(p, "file is empty (0 bytes)")


def _sndfile_reason(e: sf.LibsndfileError) -> str:
    # LibsndfileError's str() repeats the path; its error_string is just libsndfile's reason.
    return getattr(e, "error_string", None) or str(e)
