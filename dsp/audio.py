"""Decode audio files to mono float32 at a chosen rate, and write recordings atomically.

Decoding is libsndfile (through soundfile): WAV/WAVEX/RF64/W64, FLAC, OGG Vorbis and Opus, MP3,
AIFF/AIFC, CAF, AU. Channels are averaged to mono; any rate libsndfile reports (tested 8 kHz to
192 kHz) is converted with soxr's high-quality resampler, block by block so a long or many-channel
file costs little more memory than its mono result. Every failure a user can cause (missing, broken
link, folder, empty, corrupt, truncated, unsupported or unreadable file, an implausible sample rate,
fewer than one output sample, NaN/inf samples) raises ``AudioFileError`` whose message names the file
and the reason, so callers can list failures without a traceback. A file whose data ends before its
header says gives the samples present (as players do).
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
MIN_RATE, MAX_RATE = 1000, 768000   # sample rates a real file may have (Hz); others mean a bad header
_BLOCK_SAMPLES = 1 << 18             # samples (all channels) decoded per step: 1 MB of float32


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
        with sf.SoundFile(os.fsencode(p)) as f:   # bytes: names that are not valid UTF-8 open too
            y = _decode_mono(f, p, sr)
    except AudioFileError:
        raise
    except sf.LibsndfileError as e:
        raise AudioFileError(p, f"not a readable audio file or corrupt ({_sndfile_reason(e)})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:  # damaged data after a valid header
        raise AudioFileError(p, f"corrupt audio data ({' '.join(str(e).split()) or type(e).__name__})") from None
    return y


def _decode_mono(f: sf.SoundFile, p: Path, sr: int) -> np.ndarray:
    """Read, mix down and resample block by block, so memory is the mono output plus one block.

    (A 10-minute 7.1 file at 192 kHz is 3.7 GB as float32 if read whole; its 22.05 kHz mono is 53 MB.)
    soxr's stream gives the same samples as a one-shot ``soxr.resample`` of the whole signal.
    """
    file_sr = f.samplerate
    if not MIN_RATE <= file_sr <= MAX_RATE:   # e.g. a damaged header claiming 1 Hz (x22050 on resampling)
        raise AudioFileError(p, f"implausible sample rate {file_sr} Hz in the header "
                                f"(expected {MIN_RATE}..{MAX_RATE} Hz); the file is probably damaged")
    resampler = None if file_sr == sr else soxr.ResampleStream(file_sr, sr, 1, dtype="float32", quality="HQ")
    out: list[np.ndarray] = []
    n_in = bad = 0
    step = max(256, _BLOCK_SAMPLES // max(f.channels, 1))   # frames per step, fewer for many channels
    while True:
        block = f.read(step, dtype="float32", always_2d=True)
        last = block.shape[0] < step
        mono = block[:, 0] if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float64).astype(np.float32)
        n_in += mono.shape[0]
        finite = np.isfinite(mono)
        if not finite.all():
            bad += int(np.count_nonzero(~finite))
            mono = np.where(finite, mono, np.float32(0.0))  # keep soxr's state clean; we raise below
        out.append(mono if resampler is None else resampler.resample_chunk(mono, last=last))
        if last:
            break
    if n_in == 0:
        raise AudioFileError(p, "contains no audio samples")
    if bad:
        raise AudioFileError(p, f"contains {bad} NaN or infinite samples")
    y = np.concatenate(out) if len(out) > 1 else out[0]
    if y.shape[0] == 0:
        raise AudioFileError(p, f"too short: {n_in} sample(s) at {file_sr} Hz is less than one sample at {sr} Hz")
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
        raise AudioFileError(p, "broken link: the file it points to does not exist" if p.is_symlink()
                             else "file not found")
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
    reason = getattr(e, "error_string", None) or str(e)
    if "does not exist" in reason:  # libsndfile's MP3 reader says this of any undecodable stream;
        return "the decoder found no audio stream in it"   # the file was checked to exist
    return reason
