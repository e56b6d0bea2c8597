"""Adversarial inputs: unusual but valid files, malformed files, odd signals, damaged bundles, and
every command-line flag of issue 4.

Every file is generated here (soundfile and raw bytes) and decoded by the real decoders: no mocks.
The rule under test: a user's odd file either works or is named with a human reason, and no
command ever shows a traceback.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app.analysis import label_for, scan_audio_files
from app.bundle import Bundle, BundleError
from app.cli import build_parser
from dsp.audio import AudioFileError, load
from dsp.features import FeatureExtractor, FeatureSpec, NoUsableFramesError
from test_cli import ROOT, SCRIPT, assert_one_line_error

SR = 22050
F0 = 220.0                      # A3, MIDI 57
SECONDS = 0.5


def tone(sr: int, seconds: float = SECONDS, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * F0 * np.arange(int(sr * seconds)) / sr)).astype(np.float32)


def run(*args: object, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`timbrel ARGS` through the installed entry point, as a user runs it."""
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "app.cli"]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, encoding="utf-8", errors="backslashreplace", timeout=300)


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r.stderr


# ---------------------------------------------------------------------------------- the file zoo

def _write(path: Path, sr: int = SR, channels: int = 1, format: str = "WAV", subtype: str | None = None,
           only_first_channel: bool = False) -> None:
    y = tone(sr)
    data = np.zeros((len(y), channels), np.float32)
    data[:, 0] = y
    if not only_first_channel:
        data[:] = y[:, None]
    sf.write(str(path), data if channels > 1 else y, sr, format=format, subtype=subtype)


def _id3_tag() -> bytes:
    """An ID3v2.3 tag with a title frame, as music players put before MP3 audio."""
    text = b"\x03" + "Tést ♪".encode()
    frame = b"TIT2" + struct.pack(">I", len(text)) + b"\x00\x00" + text
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + syncsafe + frame


def _wav_header(sr: int, n_bytes_declared: int, bits: int = 16) -> bytes:
    block = bits // 8
    fmt = struct.pack("<HHIIHH", 1, 1, sr, (sr * block) & 0xFFFFFFFF, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", n_bytes_declared)
    return b"RIFF" + struct.pack("<I", 4 + len(body) + n_bytes_declared) + body


def _pcm16(y: np.ndarray) -> bytes:
    return (np.clip(y, -1, 1) * 32767).astype("<i2").tobytes()


# name -> how to write it; each holds SECONDS of a 220 Hz tone at amplitude 0.5 (7.1: channel 1 only)
GOOD = {
    "pcm24.wav": lambda p: _write(p, subtype="PCM_24"),
    "float32.wav": lambda p: _write(p, subtype="FLOAT"),
    "float64.wav": lambda p: _write(p, subtype="DOUBLE"),
    "pcm8.wav": lambda p: _write(p, subtype="PCM_U8"),
    "ulaw.wav": lambda p: _write(p, subtype="ULAW"),
    "alaw.wav": lambda p: _write(p, subtype="ALAW"),
    "extensible-stereo.wav": lambda p: _write(p, channels=2, format="WAVEX", subtype="PCM_16"),
    "rate-8k.wav": lambda p: _write(p, sr=8000),
    "rate-192k.wav": lambda p: _write(p, sr=192000),
    "surround-7.1.wav": lambda p: _write(p, channels=8, only_first_channel=True),
    "tagged.mp3": lambda p: (_write(p, format="MP3"), p.write_bytes(_id3_tag() + p.read_bytes())),
    "vorbis.ogg": lambda p: _write(p, format="OGG", subtype="VORBIS"),
    "opus.opus": lambda p: _write(p, sr=48000, format="OGG", subtype="OPUS"),
    "flac-24bit.flac": lambda p: _write(p, format="FLAC", subtype="PCM_24"),
    "aiff.aiff": lambda p: _write(p, format="AIFF", subtype="PCM_16"),
    "aifc-float.aifc": lambda p: _write(p, format="AIFF", subtype="FLOAT"),
    "wave64.w64": lambda p: _write(p, format="W64"),
    "rf64.rf64": lambda p: _write(p, format="RF64"),
    "core-audio.caf": lambda p: _write(p, format="CAF"),
    "UPPER CASE.WAV": lambda p: _write(p),
    "spaces ünïcode ♪.wav": lambda p: _write(p),
    "link-to-tone.wav": lambda p: (_write(p.parent.parent / "elsewhere.wav"), p.symlink_to(p.parent.parent / "elsewhere.wav")),
    # a header declaring more data than the file holds: the samples present are the audio
    "overdeclared.wav": lambda p: p.write_bytes(_wav_header(SR, 10**8) + _pcm16(tone(SR))),
}
EXPECTED_RMS = {"surround-7.1.wav": 0.5 / 8 / np.sqrt(2)}   # the mean of 8 channels, 1 of them sounding

_PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0) + b"\0" * 64


def _prefix(n: int, write) -> callable:
    """Only the first n bytes of a valid file."""
    def make(p: Path) -> None:
        write(p)
        b = p.read_bytes()
        p.write_bytes(b[:n])
    return make


# name -> (how to write it, what the reason must say)
BAD = {
    "truncated-header.wav": (_prefix(20, lambda p: _write(p)), r"corrupt|not a readable"),
    "random-bytes.flac": (lambda p: p.write_bytes(np.random.default_rng(1).bytes(4096)), r"not a readable audio file"),
    "picture.wav": (lambda p: p.write_bytes(_PNG), r"not a readable audio file"),
    "notes.wav": (lambda p: p.write_text("these are my notes, not audio\n" * 10), r"not a readable audio file"),
    "empty.wav": (lambda p: p.write_bytes(b""), r"empty \(0 bytes\)"),
    "zero-frames.wav": (lambda p: sf.write(str(p), np.zeros(0, np.float32), SR), r"no audio samples"),
    "nan.wav": (lambda p: sf.write(str(p), np.where(np.arange(SR) == 100, np.nan, tone(SR, 1.0)), SR,
                                   subtype="FLOAT"), r"NaN or infinite"),
    "inf.wav": (lambda p: sf.write(str(p), np.where(np.arange(SR) == 7, np.inf, tone(SR, 1.0)), SR,
                                   subtype="DOUBLE"), r"NaN or infinite"),
    "rate-1hz.wav": (lambda p: p.write_bytes(_wav_header(1, 2000) + b"\x00\x10" * 1000), r"sample rate 1 Hz"),
    "truncated.ogg": (_prefix(300, lambda p: _write(p, format="OGG", subtype="VORBIS")),
                      r"corrupt|malformed|not a readable"),
    "header-only.flac": (_prefix(40, lambda p: _write(p, format="FLAC")), r"corrupt|not a readable"),
    "broken-link.wav": (lambda p: p.symlink_to(p.parent / "gone.wav"), r"broken link"),
}
# Decodable but nothing to learn from: analysis lists them too.
UNUSABLE = {
    "silent.wav": (lambda p: sf.write(str(p), np.zeros(SR), SR), r"no usable frames.*quieter than"),
    "one-sample.wav": (lambda p: sf.write(str(p), np.zeros(1), SR), r"no usable frames"),
}


def make_zoo(folder: Path, *kinds: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for kind in kinds:
        for name, maker in kind.items():
            (maker[0] if isinstance(maker, tuple) else maker)(folder / name)
    return folder


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    return make_zoo(tmp_path_factory.mktemp("zoo") / "sounds", GOOD, BAD, UNUSABLE)


# ----------------------------------------------------------------------------------- dsp.audio.load

@pytest.mark.parametrize("name", sorted(GOOD))
def test_valid_files_decode_to_mono_float32_at_the_requested_rate(zoo, name):
    y = load(zoo / name, SR)
    assert y.dtype == np.float32 and y.ndim == 1 and np.isfinite(y).all()
    # lossy codecs add encoder delay/padding; every format keeps the duration within ~0.1 s
    assert abs(len(y) - SECONDS * SR) < 0.1 * SR, len(y)
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.argmax(spectrum) * SR / len(y) == pytest.approx(F0, abs=SR / len(y) + 1)  # pitch survives resampling
    middle = y[len(y) // 4: 3 * len(y) // 4]
    rms = float(np.sqrt(np.mean(middle.astype(np.float64) ** 2)))
    assert rms == pytest.approx(EXPECTED_RMS.get(name, 0.5 / np.sqrt(2)), rel=0.1)


def test_any_requested_rate(zoo):
    assert len(load(zoo / "rate-192k.wav", 16000)) == int(SECONDS * 16000)
    assert len(load(zoo / "rate-8k.wav", 44100)) == int(SECONDS * 44100)


@pytest.mark.parametrize("name", sorted(BAD))
def test_malformed_files_raise_audio_file_error_naming_the_file(zoo, name):
    path = zoo / name
    with pytest.raises(AudioFileError) as info:
        load(path)
    err = info.value
    assert err.path == str(path) and str(err) == f"{path}: {err.reason}"
    assert re.search(BAD[name][1], err.reason), err.reason
    assert "\n" not in str(err)


def test_truncated_data_gives_the_samples_present(tmp_path):
    full = tmp_path / "full.wav"
    sf.write(str(full), tone(SR, 1.0), SR, subtype="PCM_16")
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[:44 + 2 * 1000])           # header + 1000 samples of 22050
    assert len(load(cut)) == 1000


def test_more_reasons_named(tmp_path):
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    (tmp_path / "notes.txt").write_text("x")
    sf.write(str(tmp_path / "blip.wav"), np.full(1, 0.5), 192000)   # less than one sample at 22.05 kHz
    cases = {folder: "is a folder", tmp_path / "notes.txt": "unsupported file type '.txt'",
             tmp_path / "nothing.wav": "file not found", tmp_path / "blip.wav": "too short"}
    for path, reason in cases.items():
        with pytest.raises(AudioFileError, match=re.escape(f"{path}: ") + ".*" + re.escape(reason)):
            load(path)


def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.wav"
    sf.write(str(path), tone(SR), SR)
    path.chmod(0)
    if os.access(path, os.R_OK):          # running as root: permissions do not apply, it must load
        assert len(load(path)) == int(SECONDS * SR)
    else:
        with pytest.raises(AudioFileError, match="permission denied"):
            load(path)


def test_non_utf8_file_name_loads(tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9.wav"))   # a Latin-1 name on a UTF-8 system
    sf.write(str(tmp_path / "t.wav"), tone(SR), SR)
    (tmp_path / "t.wav").rename(path)
    assert len(load(path)) == int(SECONDS * SR)


def peak_memory(call, *args):
    """(call(*args), the peak of the memory Python traced while it ran, in bytes)."""
    tracemalloc.start()
    try:
        return call(*args), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_ten_minute_file_loads_in_bounded_memory(tmp_path):
    """Decoding, mixing down and resampling go block by block: the peak is about twice the mono
    output, not the whole multichannel file as float (10 min stereo 44.1 kHz: 212 MB)."""
    path = tmp_path / "long.wav"
    block = np.repeat(tone(44100, 10.0)[:, None], 2, axis=1)
    with sf.SoundFile(str(path), "w", 44100, 2, "PCM_16") as f:
        for _ in range(60):
            f.write(block)
    y, peak = peak_memory(load, path, SR)
    assert len(y) == 600 * SR
    assert peak < 2.5 * y.nbytes + 16e6, f"peak {peak / 1e6:.0f} MB for {y.nbytes / 1e6:.0f} MB of output"


def test_many_channels_decode_in_small_steps(tmp_path):
    """256 channels (a microphone array): each step reads ~1 MB, not 64k frames of every channel."""
    path = tmp_path / "array.wav"
    sf.write(str(path), np.repeat(tone(44100)[:, None], 256, axis=1), 44100, subtype="PCM_16")
    y, peak = peak_memory(load, path, SR)
    assert len(y) == int(SECONDS * SR) and np.abs(y).max() == pytest.approx(0.5, abs=0.01)
    assert peak < 8e6, f"peak {peak / 1e6:.0f} MB"


# ------------------------------------------------------------------------------ FeatureExtractor

ALL_FEATURES = FeatureSpec(features=("pitch", "confidence", "mfcc", "centroid", "flatness", "loudness"))
_rng = np.random.default_rng(0)
_t = np.arange(SR) / SR
SIGNALS = {
    "silence": np.zeros(SR),
    "dc": np.full(SR, 0.5),
    "white noise": _rng.standard_normal(SR) * 0.3,
    "clipped tone": np.clip(4 * np.sin(2 * np.pi * F0 * _t), -1, 1),
    "10 ms": 0.5 * np.sin(2 * np.pi * F0 * _t[:220]),
    "one sample": np.array([0.5]),
    "denormals": np.full(SR, 1e-310),
    "far over full scale": np.sin(2 * np.pi * F0 * _t) * 1e6,
    "NaN burst": np.where((_t > 0.4) & (_t < 0.5), np.nan, np.sin(2 * np.pi * F0 * _t)),
}


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_extractor_handles_odd_signals(name):
    y = SIGNALS[name]
    frames = FeatureExtractor(ALL_FEATURES).analyse(y)
    assert len(frames) == 1 + len(y) // ALL_FEATURES.hop_length
    assert frames.values.shape == (len(frames), len(ALL_FEATURES.columns()))
    assert np.isfinite(frames.values).all() and np.isfinite(frames.midi).all()
    assert ((frames.confidence >= 0) & (frames.confidence <= 1)).all()
    usable = frames.usable
    if name in ("silence", "denormals"):
        assert not usable.any()
    if name in ("white noise", "clipped tone", "far over full scale"):
        assert usable.all()
    if name == "clipped tone":                       # still heard as A3 through the clipping
        assert np.median(frames.midi[frames.voiced]) == pytest.approx(57, abs=0.5)
    if name == "white noise":
        assert frames.confidence.mean() < 0.5
    if name == "NaN burst":                          # frames touching the NaNs only
        touching = np.abs(frames.times - 0.45) < 0.05 + ALL_FEATURES.frame_length / 2 / SR
        assert not usable[touching].any() and usable[~touching].any()


@pytest.mark.parametrize("field", ["min_loudness_db", "min_confidence", "fmin", "fmax"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_spec_numbers_must_be_finite(field, value):
    """A bundle's JSON may say Infinity: -inf dB would let silence through, +inf would gate everything."""
    with pytest.raises(ValueError, match=f"{field} must be a finite number"):
        FeatureSpec(**{field: value})


def test_silent_file_says_so(zoo):
    with pytest.raises(NoUsableFramesError, match=re.escape(str(zoo / "silent.wav")) + ".*quieter than"):
        FeatureExtractor().analyse_file(zoo / "silent.wav", require_usable=True)


def test_long_input_memory_is_bounded():
    """A 10-minute clip is analysed in pieces: working memory stays small beside the result."""
    y = tone(SR, 600.0, amp=0.3)
    fx = FeatureExtractor(FeatureSpec(features=("pitch", "confidence", "mfcc")))
    frames, peak = peak_memory(fx.analyse, y)
    assert len(frames) == 1 + len(y) // 512 and frames.usable.all()
    result = sum(getattr(frames, f).nbytes for f in ("index", "times", "values", "f0", "midi",
                                                     "confidence", "voiced", "level_db", "usable"))
    assert peak < 3 * result + 16e6, f"peak {peak / 1e6:.0f} MB for a {result / 1e6:.0f} MB result"


def test_long_block_equals_small_blocks():
    """Pushing one long block (split internally) gives exactly what small blocks give."""
    y = np.concatenate([tone(SR, 5.0), _rng.standard_normal(3 * SR) * 0.1])
    whole = FeatureExtractor(ALL_FEATURES).analyse(y)
    s = FeatureExtractor(ALL_FEATURES).stream()
    parts = [s.push(y[i:i + 1000]) for i in range(0, len(y), 1000)] + [s.finish()]
    small = type(whole).concatenate(parts)
    assert np.array_equal(whole.values, small.values) and np.array_equal(whole.usable, small.usable)


# ---------------------------------------------------------------------------------- finding files

def test_links_loops_and_broken_links(tmp_path):
    elsewhere = make_zoo(tmp_path / "recordings", {"t1.wav": GOOD["pcm24.wav"]})
    data = tmp_path / "data"
    (data / "oboe").mkdir(parents=True)
    (data / "trombone").symlink_to(elsewhere, target_is_directory=True)   # a linked label folder
    (data / "oboe" / "linked.wav").symlink_to(elsewhere / "t1.wav")      # a linked file
    (data / "oboe" / "loop").symlink_to(data, target_is_directory=True)  # a link loop
    (data / "oboe" / "gone.wav").symlink_to(tmp_path / "missing.wav")    # a broken link
    (data / "oboe" / "._linked.wav").write_bytes(b"\x00\x05\x16\x07" + bytes(60))  # macOS metadata
    make_zoo(data / ".Trash", {"old.wav": GOOD["pcm24.wav"]})
    files, problems = scan_audio_files([data])
    names = sorted(str(f.relative_to(data)) for f in files)
    # linked.wav and trombone/t1.wav are one real file: taken once, under the first name in order;
    # the loop back to data/ is not searched twice; hidden files and folders are not searched
    assert names == ["oboe/gone.wav", "oboe/linked.wav"]
    assert problems == []
    assert label_for(data / "oboe" / "linked.wav") == "oboe"             # the link's folder, not the target's
    assert label_for(data / "trombone" / "t1.wav") == "trombone"


def test_unreadable_folder_is_reported_or_searched(tmp_path):
    locked = tmp_path / "data" / "locked"
    make_zoo(locked, {"in.wav": GOOD["pcm24.wav"]})
    locked.chmod(0)
    try:
        files, problems = scan_audio_files([tmp_path / "data"])
        if os.access(locked, os.R_OK | os.X_OK):     # root: permissions do not apply
            assert files == [locked / "in.wav"] and problems == []
        else:
            assert files == [] and [p.path for p in problems] == [locked]
            assert "cannot be searched" in problems[0].reason
    finally:
        locked.chmod(0o755)


# --------------------------------------------------------------------------------- the commands

@pytest.fixture(scope="module")
def labelled(tmp_path_factory, copy_train_notes) -> Path:
    """Two demo notes per class in label folders: enough to train in a second."""
    return copy_train_notes(tmp_path_factory.mktemp("labelled"), 2)


@pytest.fixture(scope="module")
def mlp_bundle(labelled, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m.timbrel.json"
    r = run("train", labelled, "--out", out, "--fits", "1", "--max-iter", "5", "--seed", "1")
    assert r.returncode == 0, r.stderr
    return out


def _failure_lines(stderr: str) -> dict[str, str]:
    """{file name: reason} from the `N file(s) could not be ...` list."""
    lines = {}
    for line in stderr.splitlines():
        m = re.match(r"  (.+?): (.+)$", line)
        if m:
            lines[Path(m.group(1)).name] = m.group(2)
    return lines


def test_analyse_mixed_folder_keeps_the_good_and_names_the_bad(zoo, tmp_path):
    (zoo / "a folder.wav").mkdir(exist_ok=True)          # searched like any folder, not an error
    out = tmp_path / "out"
    r = run("analyse", zoo, "--out", out)
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    clips = json.loads((out / "analysis.json").read_text())["clips"]
    assert sorted(Path(c["path"]).name for c in clips) == sorted(GOOD)
    failures = _failure_lines(r.stderr)
    assert set(failures) == set(BAD) | set(UNUSABLE), r.stderr
    for name, (_, reason) in {**BAD, **UNUSABLE}.items():
        assert re.search(reason, failures[name]), (name, failures[name])
    assert f"{len(BAD) + len(UNUSABLE)} file(s) could not be analysed" in r.stderr


def test_analyse_with_only_bad_files_exits_1(zoo, tmp_path):
    r = run("analyse", *(zoo / n for n in ("picture.wav", "empty.wav", "silent.wav")), "--out", tmp_path / "o")
    no_traceback(r)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "timbrel: error: none of the 3 file(s) could be analysed (reasons above)"
    assert not (tmp_path / "o").exists()


def _one_class(tmp: Path) -> Path:
    return make_zoo(tmp / "one" / "oboe", {"a.wav": GOOD["pcm24.wav"], "b.flac": GOOD["flac-24bit.flac"]}).parent


@pytest.mark.parametrize("case, message", [
    ("one class", r"at least two classes, found 1 \(oboe\)"),
    ("empty folder", r"no audio files found in .*empty"),
    ("single clip", r"at least two classes, found 1"),
    ("only bad files", r"x\.wav: not a readable audio file"),
    ("mistyped path", r"typo: no such file or folder"),
])
def test_train_without_enough_data_is_one_clear_line(case, message, tmp_path):
    paths = {"one class": lambda: _one_class(tmp_path),
             "empty folder": lambda: (tmp_path / "empty").mkdir() or tmp_path / "empty",
             "single clip": lambda: _one_class(tmp_path) / "oboe" / "a.wav",
             "only bad files": lambda: make_zoo(tmp_path / "bad", {"x.wav": BAD["picture.wav"][0]}),
             "mistyped path": lambda: tmp_path / "typo"}
    r = run("train", paths[case](), "--out", tmp_path / "m.timbrel.json", "--fits", "1")
    line = assert_one_line_error(r)
    assert r.returncode == 1 and re.search(message, line), r.stderr
    assert not (tmp_path / "m.timbrel.json").exists()


def test_demo_with_nothing_to_test_on(labelled, tmp_path):
    shutil.copytree(labelled, tmp_path / "train")
    (tmp_path / "test").mkdir()
    line = assert_one_line_error(run("demo", "--assets", tmp_path, "--fits", "1", "--max-iter", "2"))
    assert "no audio clip to test on" in line


def test_predict_silent_and_unusable_files_get_a_message_each(mlp_bundle, zoo, labelled):
    good = next((labelled / "oboe").glob("*.flac"))
    r = run("predict", mlp_bundle, good, zoo / "silent.wav", zoo / "one-sample.wav", zoo / "picture.wav")
    no_traceback(r)
    assert r.returncode == 1
    assert r.stdout.startswith(str(good)) and len(r.stdout.splitlines()) == 1
    failures = _failure_lines(r.stderr)
    assert re.search(UNUSABLE["silent.wav"][1], failures["silent.wav"])
    assert re.search(UNUSABLE["one-sample.wav"][1], failures["one-sample.wav"])
    assert re.search(BAD["picture.wav"][1], failures["picture.wav"])
    r = run("predict", mlp_bundle, zoo / "silent.wav", "--json")
    assert r.returncode == 1 and json.loads(r.stdout) == []


def test_a_mistyped_path_does_not_cost_the_others(mlp_bundle, labelled, tmp_path):
    r = run("analyse", tmp_path / "typo", labelled, "--out", tmp_path / "a")
    assert r.returncode == 0 and _failure_lines(r.stderr) == {"typo": "no such file or folder"}, r.stderr
    r = run("predict", mlp_bundle, tmp_path / "typo.wav", labelled)
    assert r.returncode == 1 and len(r.stdout.splitlines()) == 4
    assert _failure_lines(r.stderr) == {"typo.wav": "no such file or folder"}
    assert "typo.wav: no such file or folder" in assert_one_line_error(run("predict", mlp_bundle, tmp_path / "typo.wav"))


def test_predict_prints_names_the_terminal_cannot_encode(mlp_bundle, tmp_path):
    """A Latin-1 file name on a UTF-8 system, printed to a strict UTF-8 stdout."""
    src = next((ROOT / "assets" / "test" / "fluidr3" / "oboe").glob("*.flac"))
    shutil.copy(src, os.fsdecode(bytes(tmp_path) + b"/caf\xe9 \xe0.flac"))
    shutil.copy(src, tmp_path / "♪.flac")
    for encoding in ("utf-8:strict", "latin-1:strict"):
        r = run("predict", mlp_bundle, tmp_path, env={"PYTHONIOENCODING": encoding})
        no_traceback(r)
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 2, (encoding, r.stderr)


# ------------------------------------------------------------------------------------- bundles

def _damage(d: dict, case: str) -> dict | str:
    d = copy.deepcopy(d)
    if case == "wrong version":
        d["version"] = 99
    elif case == "model width disagrees with spec":
        d["spec"]["features"] = ["pitch", "confidence"]
        d["columns"], d["scaler"] = ["pitch", "confidence"], None
    elif case == "scaler width disagrees with spec":
        d["scaler"]["data"].update(cols=2, mean=[0.0, 0.0], std=[1.0, 1.0])
    elif case == "NaN in weights":
        d["model"]["data"]["mlp"]["layers"][0]["weights"][0][0] = float("nan")
    elif case == "labels disagree with model":
        d["labels"] = ["flute", "voice"]
    elif case == "training is not an object":
        d["training"] = [1, 2]
    elif case == "model is null":
        d["model"] = None
    return d


BUNDLE_CASES = {
    "truncated": r"not a Timbrel model bundle \(corrupt JSON",
    "FluCoMa dataset.json": r"FluCoMa DataSet/LabelSet .*timbrel train",
    "wrong version": r"version 99 is not supported",
    "model width disagrees with spec": r"model expects 15 inputs but the feature spec gives 2",
    "scaler width disagrees with spec": r"scaler expects 2 inputs",
    "NaN in weights": r"NaN",
    "labels disagree with model": r"labels .*differ from the model's classes",
    "training is not an object": r"'training' must be an object",
    "model is null": r"'model' must be an object",
}


@pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
def test_damaged_bundles_fail_with_one_line(case, mlp_bundle, labelled, tmp_path):
    text = mlp_bundle.read_text()
    if case == "truncated":
        content = text[: len(text) // 2]
    elif case == "FluCoMa dataset.json":
        r = run("analyse", labelled / "oboe", "--out", tmp_path / "a")
        content = (tmp_path / "a" / "dataset.json").read_text()
    else:
        content = json.dumps(_damage(json.loads(text), case))
    path = tmp_path / "bad.timbrel.json"
    path.write_text(content)
    with pytest.raises(BundleError) as info:
        Bundle.load(path)
    assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
    assert re.search(BUNDLE_CASES[case], str(info.value)), str(info.value)
    line = assert_one_line_error(run("predict", path, next((labelled / "oboe").glob("*.flac"))))
    assert str(path) in line


def test_model_and_audio_swapped_or_a_folder(labelled, mlp_bundle):
    audio = next((labelled / "oboe").glob("*.flac"))
    line = assert_one_line_error(run("predict", audio, mlp_bundle))
    assert "the model comes first" in line
    assert "is a folder" in assert_one_line_error(run("predict", labelled, audio))


# ---------------------------------------------------------------------------------- analysis folders

@pytest.mark.parametrize("edit", ["columns", "level", "features", "dataset width"])
def test_analysis_folder_whose_files_disagree(edit, labelled, tmp_path):
    from app.analysis import Analysis, AnalysisError, analyse_paths
    a = analyse_paths([labelled], FeatureSpec())
    a.save(tmp_path)
    meta = json.loads((tmp_path / "analysis.json").read_text())
    if edit == "columns":
        meta["columns"] = ["pitch"]
    elif edit == "level":
        meta["level"] = "clip"
    elif edit == "features":
        meta["spec"]["features"] = ["pitch", "confidence", "loudness"]
    else:
        (tmp_path / "dataset.json").write_text(json.dumps({"cols": 1, "data": {"oboe/x-0": [60.0]}}))
    (tmp_path / "analysis.json").write_text(json.dumps(meta))
    with pytest.raises(AnalysisError, match="analysis files disagree.*analyse the audio again"):
        Analysis.load(tmp_path)


def test_training_on_no_points_says_why():
    from app.training import Trainer
    from model.dataset import DataSet, LabelSet
    labels = LabelSet()
    with pytest.raises(ValueError, match="at least two classes"):
        Trainer(DataSet(2), labels).run()
    data = DataSet(2)
    for i, label in enumerate(("a", "b")):
        labels.add_label(f"p{i}", label)
    with pytest.raises(ValueError, match="no training points"):
        Trainer(data, labels).run()


# ----------------------------------------------------------------------------------------- flags

def _subcommands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(set(sub.choices))


@pytest.mark.parametrize("command", _subcommands())
def test_help_works_for_every_command(command, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_every_flag_of_issue_4_is_offered(capsys):
    wanted = {
        "analyse": ["--out", "--features", "--label"],
        "train": ["--out", "--algorithm", "--hidden", "--activation", "--max-iter", "--fits",
                  "--until-plateau", "--learn-rate", "--batch-size", "--validation", "--seed",
                  "--features", "--label"],
        "predict": ["--json"],
    }
    for command, flags in wanted.items():
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = capsys.readouterr().out
        for flag in flags:
            assert re.search(rf"(^|\s|\[){re.escape(flag)}[\s,=\]]", text), (command, flag)


def test_training_flags_reach_the_model(labelled, tmp_path):
    model = tmp_path / "m.timbrel.json"
    r = run("train", labelled, "--out", model, "--hidden", "6", "4", "--activation", "tanh",
            "--learn-rate", "0.05", "--batch-size", "16", "--validation", "0.1", "--seed", "3",
            "--max-iter", "5", "--fits", "2", "--features", "pitch,confidence,loudness")
    no_traceback(r)
    assert r.returncode == 0, r.stderr
    assert len([line for line in r.stdout.splitlines() if line.startswith("fit ")]) == 2
    bundle = Bundle.load(model)
    assert bundle.model.hidden_layers == [6, 4] and bundle.model.activation == "tanh"
    assert bundle.spec.features == ("pitch", "confidence", "loudness") and bundle.columns[-1] == "loudness"
    s = bundle.training["settings"]
    assert (s["learn_rate"], s["batch_size"], s["validation"], s["seed"], s["max_iter"]) == (0.05, 16, 0.1, 3, 5)


def test_until_plateau_stops_by_itself(labelled, tmp_path):
    r = run("train", labelled, "--out", tmp_path / "m.timbrel.json", "--until-plateau", "--max-iter", "3",
            "--seed", "2", "--features", "pitch,confidence")
    assert r.returncode == 0, r.stderr
    fits = [line for line in r.stdout.splitlines() if line.startswith("fit ")]
    assert 6 <= len(fits) <= 200 and "/" not in fits[0].split()[1]
    assert Bundle.load(tmp_path / "m.timbrel.json").training["stopped_by"] in ("plateau", "max_fits")


def test_analyse_label_and_features(labelled, tmp_path):
    r = run("analyse", labelled, "--out", tmp_path / "a", "--label", "brass", "--features", "pitch,loudness")
    assert r.returncode == 0, r.stderr
    labels = json.loads((tmp_path / "a" / "labels.json").read_text())["data"]
    assert {v[0] for v in labels.values()} == {"brass"}
    assert json.loads((tmp_path / "a" / "analysis.json").read_text())["columns"] == ["pitch", "loudness"]


def test_usage_and_output_errors(labelled, tmp_path):
    for args in (["--min-confidence", "2"], ["--learn-rate", "inf"], ["--fits", "2", "--until-plateau"]):
        assert_one_line_error(run("train", labelled, "--out", tmp_path / "m.timbrel.json", *args), code=2)
    line = assert_one_line_error(run("train", labelled, "--out", tmp_path))     # before any work
    assert "is a folder" in line
    (tmp_path / "file").write_text("x")
    assert "is a file" in assert_one_line_error(run("analyse", labelled, "--out", tmp_path / "file"))


# ------------------------------------------------------------------------------------- progress

def test_progress_bar_shows_on_a_terminal(labelled, tmp_path):
    """On a real terminal (a pty with a size) analysing shows a tqdm bar on stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "app.cli"]
    try:
        p = subprocess.run(cmd + ["analyse", str(labelled), "--out", str(tmp_path / "a")], cwd=ROOT,
                           env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                           stderr=slave, timeout=300)
        os.close(slave)
        slave = -1
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:          # EIO: the writer has gone and everything was read
                break
            if not data:
                break
            chunks.append(data)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    shown = b"".join(chunks).decode("utf-8", "replace")
    assert p.returncode == 0
    assert re.search(r"analysing:\s+\d+%\|.*\| \d+/4", shown), shown
