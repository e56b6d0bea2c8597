"""dsp.audio: real files written with libsndfile, decoded back through load()."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from dsp.audio import SUPPORTED_EXTENSIONS, AudioFileError, is_audio_file, load, save_wav


def tone(sr: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(sr * seconds))) / sr
    return amp * np.sin(2 * np.pi * freq * t)


def peak_hz(y: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return float(np.argmax(spec) * sr / len(y))


FORMATS = [  # (extension, libsndfile format, subtype, lossy?)
    ("wav", "WAV", "PCM_16", False),
    ("wav", "WAV", "FLOAT", False),
    ("flac", "FLAC", "PCM_24", False),
    ("ogg", "OGG", "VORBIS", True),
    ("mp3", "MP3", "MPEG_LAYER_III", True),
    ("aiff", "AIFF", "PCM_16", False),
]


@pytest.mark.parametrize("ext,fmt,subtype,lossy", FORMATS, ids=[f"{f[0]}-{f[2]}" for f in FORMATS])
def test_every_format_decodes_to_mono_float32(tmp_path, ext, fmt, subtype, lossy):
    sr_in = 44100
    y = tone(sr_in, 1.0)
    path = tmp_path / f"tone.{ext}"
    sf.write(path, np.c_[y, y], sr_in, format=fmt, subtype=subtype)
    out = load(path, sr=22050)
    assert out.dtype == np.float32 and out.ndim == 1
    # Lossy codecs pad a little (encoder delay); lossless ones must keep the length exactly.
    if lossy:
        assert abs(len(out) - 22050) < 22050 * 0.1
    else:
        assert len(out) == 22050
    core = out[2000:-2000]
    assert abs(peak_hz(core, 22050) - 440) < 3
    assert 0.45 < np.abs(core).max() < 0.56


@pytest.mark.parametrize("sr_in", [8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000])
def test_any_rate_is_resampled(tmp_path, sr_in):
    y = tone(sr_in, 0.5, freq=1000.0)
    path = tmp_path / f"r{sr_in}.flac"
    sf.write(path, y, sr_in, subtype="PCM_24")
    out = load(path, sr=22050)
    assert abs(len(out) - round(len(y) * 22050 / sr_in)) <= 1
    assert abs(peak_hz(out, 22050) - 1000) < 4
    mid = out[len(out) // 4: -len(out) // 4]
    assert np.sqrt(np.mean(mid ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_upsampling_to_a_higher_target_rate(tmp_path):
    path = tmp_path / "low.wav"
    sf.write(path, tone(8000, 0.25, freq=300.0), 8000)
    out = load(path, sr=48000)
    assert len(out) == 12000
    assert abs(peak_hz(out, 48000) - 300) < 5


def test_same_rate_is_not_resampled(tmp_path):
    y = (np.random.default_rng(1).standard_normal(5000) * 0.1).astype(np.float32)
    path = tmp_path / "same.wav"
    sf.write(path, y, 22050, subtype="FLOAT")
    np.testing.assert_array_equal(load(path, sr=22050), y)


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_channels_are_averaged(tmp_path, channels):
    rng = np.random.default_rng(channels)
    data = (rng.uniform(-0.5, 0.5, size=(3000, channels))).astype(np.float32)
    path = tmp_path / f"c{channels}.wav"
    sf.write(path, data, 22050, subtype="FLOAT")
    np.testing.assert_allclose(load(path), data.mean(axis=1), atol=1e-6)


def test_opposite_channels_cancel(tmp_path):
    y = tone(22050, 0.2)
    path = tmp_path / "cancel.wav"
    sf.write(path, np.c_[y, -y], 22050, subtype="FLOAT")
    assert np.abs(load(path)).max() < 1e-6


def test_ten_millisecond_file(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, tone(44100, 0.01), 44100)
    out = load(path)
    assert abs(len(out) - 441 / 2) <= 1 and out.dtype == np.float32 and np.abs(out).max() > 0.1


def test_bundled_asset_loads(assets_dir):
    clip = next((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))
    out = load(clip)
    assert out.ndim == 1 and 0.5 < len(out) / 22050 < 2.0
    assert np.abs(out).max() == pytest.approx(10 ** (-1 / 20), abs=0.01)


# --- bad input: each error names the file and gives the reason -----------------------------------

def assert_error(path: Path, *words: str) -> None:
    with pytest.raises(AudioFileError) as info:
        load(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    assert info.value.path == str(path)


def test_missing_file(tmp_path):
    assert_error(tmp_path / "nope.wav", "not found")


def test_empty_file(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    assert_error(p, "empty")


def test_text_renamed_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("this is not audio, just a text file someone renamed\n" * 20)
    assert_error(p, "not a readable audio file")


def test_corrupt_flac(tmp_path):
    p = tmp_path / "broken.flac"
    p.write_bytes(b"fLaC" + bytes(range(256)) * 8)
    assert_error(p, "corrupt")


def test_header_only_wav_has_no_samples(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, tone(22050, 0.1), 22050)
    p = tmp_path / "header_only.wav"
    p.write_bytes(good.read_bytes()[:44])
    assert_error(p, "no audio samples")


def test_unsupported_extension(tmp_path):
    p = tmp_path / "tone.xyz"
    sf.write(p, tone(22050, 0.1), 22050, format="WAV")
    assert_error(p, "unsupported file type", ".xyz")


def test_folder(tmp_path):
    d = tmp_path / "dir.wav"
    d.mkdir()
    assert_error(d, "folder")


def test_nan_samples(tmp_path):
    y = tone(22050, 0.1).astype(np.float32)
    y[100] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(p, y, 22050, subtype="FLOAT")
    assert_error(p, "NaN")


def test_error_is_a_value_error():
    assert issubclass(AudioFileError, ValueError)


def test_supported_extensions():
    for ext in (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif"):
        assert ext in SUPPORTED_EXTENSIONS
    assert is_audio_file("A/B/Take.WAV") and not is_audio_file("notes.txt")


# --- save_wav ----------------------------------------------------------------------------------

def test_save_wav_round_trip_and_leaves_no_temp_files(tmp_path):
    y = (np.random.default_rng(2).uniform(-0.9, 0.9, 4000)).astype(np.float32)
    p = save_wav(tmp_path / "rec" / "take.wav", y, 22050)
    assert p.is_file()
    np.testing.assert_array_equal(load(p), y)
    assert sorted(x.name for x in p.parent.iterdir()) == ["take.wav"]


def test_save_wav_failure_keeps_the_old_file(tmp_path):
    p = save_wav(tmp_path / "take.wav", np.full(100, 0.25, np.float32), 22050)
    with pytest.raises(ValueError, match="NaN"):
        save_wav(p, np.array([0.0, np.nan]), 22050)
    with pytest.raises(ValueError):
        save_wav(p, np.array([0.1, 0.2]), 22050, subtype="NOT_A_SUBTYPE")
    np.testing.assert_array_equal(load(p), np.full(100, 0.25, np.float32))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["take.wav"]
