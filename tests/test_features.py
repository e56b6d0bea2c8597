"""dsp.features: spec, frame alignment against librosa, streaming == offline, gates, bad input."""
from __future__ import annotations

import json
from dataclasses import fields

import librosa
import numpy as np
import pytest
import soundfile as sf

from dsp.features import (FeatureExtractor, FeatureSpec, Frames, NoUsableFramesError,
                          clip_statistics, frame_rows)
from dsp.pitch import PitchTracker

SR = 22050
ALL = FeatureSpec(features=("pitch", "confidence", "mfcc", "centroid", "flatness", "loudness"))


def harmonic(f0: float, seconds: float, amp: float = 0.5, sr: int = SR) -> np.ndarray:
    """A few decaying harmonics with a 5 Hz, +-9 cent vibrato: pitched, with a real spectrum."""
    t = np.arange(int(sr * seconds)) / sr
    depth = 0.005
    phase = 2 * np.pi * f0 * (t + depth / (2 * np.pi * 5) * np.sin(2 * np.pi * 5 * t))
    y = sum(np.sin(k * phase) / k for k in range(1, 6))
    return (amp * y / np.abs(y).max()).astype(np.float32)


def mixed_signal(seed: int = 0) -> np.ndarray:
    """Tone, noise, silence, another tone: voicing and spectrum change sharply over time."""
    rng = np.random.default_rng(seed)
    return np.concatenate([
        harmonic(220.0, 0.6), (0.2 * rng.standard_normal(int(0.4 * SR))).astype(np.float32),
        np.zeros(int(0.3 * SR), np.float32), harmonic(523.25, 0.5, amp=0.3),
    ])


def assert_frames_equal(a: Frames, b: Frames) -> None:
    for f in fields(Frames):
        x, y = getattr(a, f.name), getattr(b, f.name)
        assert x.shape == y.shape, f.name
        np.testing.assert_array_equal(x, y, err_msg=f.name)


# --- spec -------------------------------------------------------------------------------------

def test_default_spec_and_columns():
    spec = FeatureSpec()
    assert spec.features == ("pitch", "confidence") and spec.columns() == ["pitch", "confidence"]
    assert spec.min_loudness_db == -60.0 and spec.min_confidence == 0.0
    cols = ALL.columns()
    assert cols[:2] == ["pitch", "confidence"] and cols[2:15] == [f"mfcc{i}" for i in range(13)]
    assert cols[15:] == ["centroid", "flatness", "loudness"]
    assert FeatureSpec(features=("loudness", "pitch")).columns() == ["loudness", "pitch"]


def test_spec_round_trip_through_json():
    spec = FeatureSpec(sr=16000, frame_length=1024, hop_length=256, fmin=80.0, fmax=1000.0,
                       features=("mfcc", "pitch"), min_loudness_db=-50.0, min_confidence=0.3)
    again = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec and again.columns() == spec.columns()
    assert FeatureSpec.from_dict({}) == FeatureSpec()
    assert type(FeatureSpec(sr=np.int64(16000), fmax=4000.0).to_dict()["sr"]) is int


@pytest.mark.parametrize("d,words", [
    ({"features": ["pitch", "timbre"]}, "unknown feature"),
    ({"features": []}, "at least one"),
    ({"features": ["pitch", "pitch"]}, "twice"),
    ({"sr": "22050"}, "sr"),
    ({"hop_length": 0}, "hop_length"),
    ({"fmin": 500.0, "fmax": 400.0}, "fmin"),
    ({"fmax": 20000.0}, "sr/2"),
    ({"fmin": 5.0}, "too short"),
    ({"min_confidence": 1.5}, "min_confidence"),
    ({"min_loudness_db": "loud"}, "min_loudness_db"),
    ({"colour": "blue"}, "unknown field"),
    ({"version": 99}, "version 99"),
    ({"format": "something.else"}, "format"),
])
def test_spec_validation(d, words):
    with pytest.raises(ValueError, match=words):
        FeatureSpec.from_dict(d)


def test_spec_accepts_comma_separated_features():
    assert FeatureSpec(features="pitch, mfcc").features == ("pitch", "mfcc")


# --- alignment and values against librosa ------------------------------------------------------

def test_frames_follow_pyins_centre_convention_and_match_librosa():
    y = mixed_signal()
    fr = FeatureExtractor(ALL).analyse(y)
    n = 1 + len(y) // ALL.hop_length
    assert len(fr) == n
    np.testing.assert_array_equal(fr.index, np.arange(n))
    np.testing.assert_allclose(fr.times, np.arange(n) * 512 / SR)
    assert fr.values.shape == (n, len(ALL.columns())) and np.isfinite(fr.values).all()

    # Confidence is pYIN's voiced probability of the same frame: any misalignment would show at the
    # sharp tone/noise/silence boundaries.
    _, _, vp = librosa.pyin(y, sr=SR, fmin=ALL.fmin, fmax=ALL.fmax, frame_length=2048, hop_length=512)
    np.testing.assert_allclose(fr.confidence, vp, atol=0.02)

    yd = y.astype(np.float64)
    S = np.abs(librosa.stft(yd, n_fft=2048, hop_length=512))
    col = {c: i for i, c in enumerate(ALL.columns())}
    mel = librosa.feature.melspectrogram(S=S ** 2, sr=SR)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=13).T
    np.testing.assert_allclose(fr.values[:, col["mfcc0"]:col["mfcc12"] + 1], mfcc, atol=1e-6)
    np.testing.assert_allclose(fr.values[:, col["centroid"]],
                               librosa.feature.spectral_centroid(S=S, sr=SR)[0], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(fr.values[:, col["flatness"]],
                               librosa.feature.spectral_flatness(S=S)[0], rtol=1e-9, atol=1e-12)
    rms = librosa.feature.rms(y=yd, frame_length=2048, hop_length=512)[0]
    loud = rms > 1e-6
    np.testing.assert_allclose(fr.level_db[loud], 20 * np.log10(rms[loud]), atol=1e-6)
    np.testing.assert_array_equal(fr.values[:, col["loudness"]], fr.level_db)
    assert (fr.level_db[~loud] == -120.0).all()


def test_pitch_column_is_midi_of_the_pitch_track():
    y = harmonic(220.0, 1.0)   # A3 = MIDI 57
    fr = FeatureExtractor().analyse(y)
    mid = slice(5, len(fr) - 5)
    assert fr.voiced[mid].all()
    np.testing.assert_allclose(fr.midi[mid], 57.0, atol=0.15)
    np.testing.assert_allclose(fr.f0[mid], 220.0, rtol=0.01)
    np.testing.assert_array_equal(fr.values[:, 0], fr.midi)
    np.testing.assert_array_equal(fr.values[:, 1], fr.confidence)
    assert np.isfinite(fr.midi).all()
    assert np.isnan(fr.f0[~fr.voiced]).all()


def test_full_scale_sine_level():
    t = np.arange(SR) / SR
    fr = FeatureExtractor(FeatureSpec(features=("loudness",))).analyse(np.sin(2 * np.pi * 1000 * t))
    np.testing.assert_allclose(fr.level_db[4:-4], 20 * np.log10(np.sqrt(0.5)), atol=0.01)


# --- streaming == offline ----------------------------------------------------------------------

ROBUST = FeatureSpec(features=("pitch", "confidence", "mfcc_shape", "harmonics"), context_frames=11)


@pytest.mark.parametrize("seed, spec", [(1, ALL), (2, ALL), (3, ALL), (4, ROBUST), (5, ROBUST)])
def test_streaming_equals_offline_with_random_blocks(seed, spec):
    rng = np.random.default_rng(seed)
    y = mixed_signal(seed)
    offline = FeatureExtractor(spec).analyse(y)
    stream = FeatureExtractor(spec).stream()
    parts, i = [], 0
    while i < len(y):
        b = int(rng.choice([0, 1, 7, 64, 300, 512, 513, 2048, 4096, int(rng.integers(1, 9000))]))
        out = stream.push(y[i:i + b])
        if len(out):
            assert out.index[0] == (parts[-1].index[-1] + 1 if parts else 0)  # contiguous, in order
            parts.append(out)
        i += b
    tail = stream.finish()
    assert_frames_equal(Frames.concatenate(parts + [tail]), offline)
    # Frames come out live, before the stream ends: only the tracker's lag and the frames that
    # reach into the end padding are left for finish().
    assert len(tail) <= PitchTracker().lag + 2048 // 512 // 2 + 1


def test_streaming_one_sample_at_a_time():
    y = mixed_signal()[: SR // 3]
    offline = FeatureExtractor(ALL).analyse(y)
    s = FeatureExtractor(ALL).stream()
    parts = [s.push(y[i:i + 1]) for i in range(len(y))] + [s.finish()]
    assert_frames_equal(Frames.concatenate(parts), offline)


def test_stream_cannot_be_pushed_after_finish():
    s = FeatureExtractor().stream()
    s.push(harmonic(220, 0.1))
    s.finish()
    assert len(s.finish()) == 0
    with pytest.raises(RuntimeError, match="finished"):
        s.push(np.zeros(10))


# --- gates and bad input -------------------------------------------------------------------------

def test_loudness_gate():
    quiet = harmonic(330.0, 0.5, amp=10 ** (-70 / 20))       # peaks at -70 dBFS
    assert not FeatureExtractor().analyse(quiet).usable.any()
    assert FeatureExtractor(FeatureSpec(min_loudness_db=-90)).analyse(quiet).usable[3:-3].all()


def test_confidence_gate():
    rng = np.random.default_rng(5)
    y = np.concatenate([harmonic(330.0, 0.5), (0.3 * rng.standard_normal(SR // 2)).astype(np.float32)])
    open_gate = FeatureExtractor().analyse(y)
    assert open_gate.usable.all()                            # default min_confidence 0 keeps noise
    gated = FeatureExtractor(FeatureSpec(min_confidence=0.5)).analyse(y)
    np.testing.assert_array_equal(gated.usable, open_gate.confidence >= 0.5)
    assert gated.usable[:15].sum() >= 12 and not gated.usable[-15:].any()


def test_silence_has_frames_but_none_usable(tmp_path):
    fr = FeatureExtractor(ALL).analyse(np.zeros(SR, np.float32))
    assert len(fr) == 1 + SR // 512 and not fr.usable.any() and np.isfinite(fr.values).all()
    ids, rows = frame_rows(fr, "silence")
    assert ids == [] and rows.shape == (0, len(ALL.columns()))
    with pytest.raises(NoUsableFramesError, match="no usable frames"):
        clip_statistics(fr, ALL.columns())
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR), SR)
    assert not FeatureExtractor().analyse_file(path).usable.any()
    with pytest.raises(NoUsableFramesError) as info:
        FeatureExtractor().analyse_file(path, require_usable=True)
    assert str(path) in str(info.value) and "quieter than -60" in str(info.value)


def test_nan_samples_make_their_frames_unusable_not_the_clip():
    y = harmonic(220.0, 1.0)
    bad = y.copy()
    bad[11000:11010] = np.nan
    bad[11020] = np.inf
    fr = FeatureExtractor(ALL).analyse(bad)
    assert np.isfinite(fr.values).all()
    centres = fr.index * 512
    touched = (centres + 1024 > 11000) & (centres - 1024 <= 11020)
    assert touched.sum() == 4
    assert not fr.usable[touched].any() and fr.usable[~touched][2:-2].all()
    clean = FeatureExtractor(ALL).analyse(np.where(np.isfinite(bad), bad, 0).astype(np.float32))
    np.testing.assert_array_equal(fr.values, clean.values)     # NaN/inf analysed as zeros
    s = FeatureExtractor(ALL).stream()                         # and the same when streamed
    parts = [s.push(bad[i:i + 700]) for i in range(0, len(bad), 700)] + [s.finish()]
    assert_frames_equal(Frames.concatenate(parts), fr)


def test_ten_millisecond_clip_and_empty_clip():
    fr = FeatureExtractor(ALL).analyse(harmonic(440.0, 0.01))
    assert len(fr) == 1 and np.isfinite(fr.values).all()
    assert len(FeatureExtractor(ALL).analyse(np.zeros(0, np.float32))) == 0


def test_rejects_multichannel_arrays():
    with pytest.raises(ValueError, match="mono"):
        FeatureExtractor().analyse(np.zeros((100, 2)))
    with pytest.raises(ValueError, match="mono"):
        FeatureExtractor().stream().push(np.zeros((100, 2)))


# --- rows and statistics ---------------------------------------------------------------------------

def test_frame_rows_ids_and_values():
    y = np.concatenate([np.zeros(SR // 2, np.float32), harmonic(440.0, 0.5)])
    fr = FeatureExtractor(ALL).analyse(y)
    ids, rows = frame_rows(fr, "oboe/take1")
    expected = [f"oboe/take1-{i}" for i in np.flatnonzero(fr.usable)]
    assert ids == expected and len(ids) > 10 and not fr.usable[:15].any()
    np.testing.assert_array_equal(rows, fr.values[fr.usable])
    rows[:] = 0                                   # a copy: the frames are untouched
    assert np.abs(fr.values[fr.usable]).sum() > 0


def _frames(values: np.ndarray, usable: list[bool]) -> Frames:
    n = len(usable)
    z = np.zeros(n)
    return Frames(np.arange(n), z, values, z, z, z, np.zeros(n, bool), z, np.array(usable))


def test_clip_statistics_of_usable_frames():
    values = np.array([[1.0, 10.0], [2.0, 10.0], [6.0, 40.0], [100.0, -5.0]])
    names, vec = clip_statistics(_frames(values, [True, True, True, False]), ["a", "b"])
    assert names == ["a_mean", "a_std", "a_min", "a_max", "a_median",
                     "b_mean", "b_std", "b_min", "b_max", "b_median"]
    np.testing.assert_allclose(vec, [3.0, np.sqrt(14 / 3), 1.0, 6.0, 2.0,
                                     20.0, np.sqrt(200.0), 10.0, 40.0, 10.0])
    with pytest.raises(ValueError, match="column"):
        clip_statistics(_frames(values, [True] * 4), ["a"])


def test_frames_select_and_concatenate():
    fr = FeatureExtractor().analyse(harmonic(220.0, 0.3))
    a, b = fr.select(slice(0, 4)), fr.select(np.arange(len(fr)) >= 4)
    assert len(a) == 4 and len(a) + len(b) == len(fr)
    assert_frames_equal(Frames.concatenate([a, b]), fr)
    assert len(Frames.concatenate([], n_columns=2)) == 0


def test_bundled_assets_are_analysed_at_their_notes(assets_dir):
    ex = FeatureExtractor(ALL)
    for path, midi in [(assets_dir / "test/fluidr3/oboe/oboe_D5_v80.flac", 74),
                       (assets_dir / "test/fluidr3/trombone/trombone_D3_v45.flac", 50)]:
        fr = ex.analyse_file(path, require_usable=True)
        assert fr.usable.mean() > 0.8
        assert abs(np.median(fr.midi[fr.usable & fr.voiced]) - midi) < 0.3
        names, vec = clip_statistics(fr, ALL.columns())
        assert len(names) == len(vec) == 5 * len(ALL.columns()) == 90


# --- level-invariant and note-relative features --------------------------------------------------

def test_harmonic_profile_of_a_known_tone():
    """h1..h8 are each harmonic's share in dB: a tone with amplitudes 1, 1/2, 1/4 has shares
    1 : 1/4 : 1/16 in power; odd/even and the centroid follow from the same partials."""
    t = np.arange(SR) / SR
    f0 = 220.0
    y = 0.5 * (np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(2 * np.pi * 2 * f0 * t)
               + 0.25 * np.sin(2 * np.pi * 3 * f0 * t))
    spec = FeatureSpec(features=("harmonics",))
    fr = FeatureExtractor(spec).analyse(y)
    cols = spec.columns()
    mid = fr.values[len(fr) // 2]
    total = 1 + 0.25 + 0.0625
    for k, share in ((1, 1 / total), (2, 0.25 / total), (3, 0.0625 / total)):
        assert mid[cols.index(f"h{k}")] == pytest.approx(10 * np.log10(share), abs=0.5)
    assert mid[cols.index("h5")] < -60                      # absent harmonics sit at the floor
    assert mid[cols.index("oddeven")] == pytest.approx(10 * np.log10(0.0625 / 0.25), abs=0.5)
    assert mid[cols.index("harmonicity")] > -0.5            # no noise between the partials


@pytest.mark.parametrize("features", [("mfcc_shape",), ("harmonics",)])
def test_timbre_features_do_not_move_with_gain(features, assets_dir):
    """20 dB quieter, the same note gives the same mfcc_shape and harmonic columns (mfcc0 would move
    by the whole 20 dB, which is why it is left out)."""
    y, _ = sf.read(assets_dir / "train/fluidr3/trombone/trombone_C3_v80.flac")
    spec = FeatureSpec(features=features)
    loud, quiet = (FeatureExtractor(spec).analyse(g * y) for g in (1.0, 0.1))
    both = loud.usable & quiet.usable & (loud.level_db > -40)
    assert both.sum() > 20
    assert np.allclose(loud.values[both], quiet.values[both], atol=1e-6)


def test_mfcc_and_mfcc_shape_cannot_be_combined():
    with pytest.raises(ValueError, match="mfcc_shape"):
        FeatureSpec(features=("mfcc", "mfcc_shape"))


def test_context_columns_are_causal_running_statistics():
    spec = FeatureSpec(features=("pitch",), context_frames=3)
    assert spec.columns() == ["pitch", "pitch_ctx_mean", "pitch_ctx_std"]
    y = np.concatenate([harmonic(220.0, 0.5), harmonic(440.0, 0.5)])
    fr = FeatureExtractor(spec).analyse(y)
    loud = np.flatnonzero(fr.level_db >= spec.min_loudness_db)
    i = loud[len(loud) // 2 + 6]                 # well inside the second note
    window = [j for j in range(i - 2, i + 1) if fr.level_db[j] >= spec.min_loudness_db]
    assert fr.values[i, 1] == pytest.approx(np.mean(fr.values[window, 0]))
    assert fr.values[i, 2] == pytest.approx(np.std(fr.values[window, 0]))
    # the first loud frame of the clip sees only itself: no look-ahead
    assert fr.values[loud[0], 1] == pytest.approx(fr.values[loud[0], 0])
