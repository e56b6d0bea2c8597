"""dsp.pitch.PitchTracker: streaming pYIN against offline pyin, any block size, bad input."""
from __future__ import annotations

import numpy as np
import pytest

from dsp.pitch import PitchFrames, PitchTracker, pyin
from test_pitch_signals import FMAX, FMIN, SR, glide, instrument_clips, vibrato_tone

HOP = 512


def stream(y: np.ndarray, tracker: PitchTracker, sizes) -> PitchFrames:
    """Push y in blocks of the given sizes (cycled), flush, and join what came out."""
    outs, i, k = [], 0, 0
    while i < y.shape[0]:
        n = int(sizes[k % len(sizes)])
        outs.append(tracker.push(y[i:i + n]))
        i, k = i + n, k + 1
    outs.append(tracker.flush())
    return PitchFrames(*(np.concatenate([getattr(o, f) for o in outs])
                         for f in PitchFrames.__dataclass_fields__))


def offline(y: np.ndarray):
    return pyin(y, sr=SR, fmin=FMIN, fmax=FMAX, frame_length=2048, hop_length=HOP, fill_na=None)


@pytest.fixture(scope="module")
def signal(assets_dir, tmp_path_factory):
    clips = instrument_clips(assets_dir, tmp_path_factory.mktemp("renders"))
    parts = [vibrato_tone(1.0), glide(1.0), *clips.values(),
             0.2 * np.random.default_rng(3).standard_normal(SR // 2)]
    return np.concatenate(parts).astype(np.float32)


def _assert_issue_targets(out: PitchFrames, y: np.ndarray) -> None:
    best_f0, voiced, prob = offline(y)
    assert len(out) == voiced.shape[0]
    np.testing.assert_array_equal(out.index, np.arange(len(out)))
    np.testing.assert_allclose(out.times, out.index * HOP / SR)
    # confidence is causal, so it is the offline voiced_prob itself
    np.testing.assert_allclose(out.confidence, prob, rtol=0, atol=1e-12)
    assert np.mean(out.voiced == voiced) >= 0.97
    cents = np.abs(1200 * np.log2(out.best_f0 / best_f0))
    both = out.voiced & voiced
    assert np.mean(cents[both] <= 10) >= 0.97
    assert np.mean(cents <= 10) >= 0.97  # the best guess of unvoiced frames too


@pytest.fixture(scope="module")
def instruments(assets_dir):
    """Every bundled instrument note, end to end: the audio the default lag was chosen on."""
    from dsp.audio import load

    clips = sorted(assets_dir.glob("*/fluidr3/*/*.flac"))
    assert len(clips) > 50, "the bundled assets are missing"
    return np.concatenate([load(p, SR) for p in clips]).astype(np.float32)


def test_the_live_features_short_lag_meets_the_targets_on_instrument_notes(instruments):
    from dsp.features import FeatureSpec

    lag = FeatureSpec().pitch_lag
    assert lag < PitchTracker(SR, FMIN, FMAX).lag
    sizes = np.random.default_rng(0).integers(0, 3000, size=500)
    _assert_issue_targets(stream(instruments, PitchTracker(SR, FMIN, FMAX, 2048, HOP, lag=lag), sizes),
                          instruments)


def test_random_blocks_agree_with_offline(signal):
    # vibrato, a fast glide, instrument notes and noise at the tracker's default lag
    sizes = np.random.default_rng(0).integers(0, 3000, size=500)
    _assert_issue_targets(stream(signal, PitchTracker(SR, FMIN, FMAX, 2048, HOP), sizes), signal)


def test_frames_fields_are_consistent(signal):
    out = stream(signal[: SR * 2], PitchTracker(SR, FMIN, FMAX), [4096])
    assert np.isnan(out.f0[~out.voiced]).all()
    np.testing.assert_array_equal(out.f0[out.voiced], out.best_f0[out.voiced])
    np.testing.assert_allclose(out.midi, 69 + 12 * np.log2(out.best_f0 / 440))
    assert np.isfinite(out.midi).all() and ((out.confidence >= 0) & (out.confidence <= 1)).all()
    assert out.voiced.dtype == bool and out.index.dtype == np.int64


def test_unbounded_lag_equals_offline_exactly(signal):
    y = signal[: SR * 2]
    best_f0, voiced, prob = offline(y)
    out = stream(y, PitchTracker(SR, FMIN, FMAX, lag=10_000), [1000, 3, 7000])
    np.testing.assert_array_equal(out.voiced, voiced)
    np.testing.assert_array_equal(out.best_f0, best_f0)


def test_frames_arrive_lag_frames_late():
    tracker = PitchTracker(SR, FMIN, FMAX, lag=4)
    out = tracker.push(np.zeros(HOP * 20, dtype=np.float32))
    # frame k is complete once samples up to k*hop + 1024 are in: frames 0..18; 4 pending
    assert len(out) == 19 - 4 and out.index[-1] == 14
    assert tracker.latency == pytest.approx((1024 + 4 * HOP) / SR)


def test_sample_by_sample_equals_big_blocks():
    y = vibrato_tone(0.4).astype(np.float32)
    one = stream(y, PitchTracker(SR, FMIN, FMAX), [1])
    big = stream(y, PitchTracker(SR, FMIN, FMAX), [y.shape[0]])
    for field in ("index", "voiced", "best_f0", "confidence"):
        np.testing.assert_array_equal(getattr(one, field), getattr(big, field))


def test_empty_and_single_sample_blocks():
    tracker = PitchTracker(SR, FMIN, FMAX)
    for block in (np.zeros(0), np.zeros(0, dtype=np.float32), np.zeros(1)):
        out = tracker.push(block)
        assert len(out) == 0 and out.f0.shape == (0,)
    assert len(tracker.flush()) == 1  # one sample: one (silent) frame, as pyin gives


def test_lag_zero_is_greedy_but_works():
    y = vibrato_tone(0.5).astype(np.float32)
    _, voiced, _ = offline(y)
    out = stream(y, PitchTracker(SR, FMIN, FMAX, lag=0), [512])
    assert len(out) == voiced.shape[0] and np.mean(out.voiced == voiced) > 0.8


def test_nan_block_is_rejected_and_the_stream_continues():
    y = vibrato_tone(0.5).astype(np.float32)
    clean = stream(y, PitchTracker(SR, FMIN, FMAX), [2048])
    tracker = PitchTracker(SR, FMIN, FMAX)
    outs = [tracker.push(y[:4096])]
    with pytest.raises(ValueError, match="NaN"):
        tracker.push(np.array([0.1, np.nan, 0.2], dtype=np.float32))
    with pytest.raises(ValueError):
        tracker.push(np.zeros((2, 10), dtype=np.float32))
    with pytest.raises(ValueError):
        tracker.push(np.zeros(10, dtype=np.int16))
    for i in range(4096, y.shape[0], 2048):
        outs.append(tracker.push(y[i:i + 2048]))
    outs.append(tracker.flush())
    np.testing.assert_array_equal(np.concatenate([o.voiced for o in outs]), clean.voiced)
    np.testing.assert_array_equal(np.concatenate([o.best_f0 for o in outs]), clean.best_f0)


def test_silence_noise_and_dc_streams():
    rng = np.random.default_rng(5)
    for kind, y in (("silence", np.zeros(SR)), ("dc", np.full(SR, 0.3)),
                    ("noise", 0.5 * rng.standard_normal(SR))):
        y = y.astype(np.float32)
        out = stream(y, PitchTracker(SR, FMIN, FMAX), [777])
        _, voiced, prob = offline(y)
        assert len(out) == 1 + SR // HOP
        assert np.mean(out.voiced == voiced) >= 0.97, kind
        if kind == "noise":
            # pYIN's HMM calls some noise frames voiced, but never with confidence
            assert out.confidence.max() < 0.05
        else:
            assert not out.voiced.any() and (out.confidence == 0).all(), kind


def test_state_stays_bounded_on_a_long_stream():
    tracker = PitchTracker(SR, FMIN, FMAX)
    rng = np.random.default_rng(9)
    n = 0
    for _ in range(300):
        n += len(tracker.push((0.1 * rng.standard_normal(HOP)).astype(np.float32)))
        assert tracker._buf.shape[0] <= 4 * 2048 and tracker._len < 2048 + HOP
    assert n == tracker.frames_out == 300 - 2 - tracker.lag + 1


def test_flush_resets_for_a_new_stream():
    y = vibrato_tone(0.5).astype(np.float32)
    tracker = PitchTracker(SR, FMIN, FMAX)
    first = stream(y, tracker, [3000])
    second = stream(y, tracker, [3000])
    np.testing.assert_array_equal(first.index, second.index)
    np.testing.assert_array_equal(first.best_f0, second.best_f0)


def test_bad_tracker_parameters():
    with pytest.raises(ValueError):
        PitchTracker(SR, FMIN, FMAX, lag=-1)
    with pytest.raises(ValueError, match="Nyquist"):
        PitchTracker(8000, 100.0, 5000.0)


def test_block_partition_never_changes_the_output():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    y = np.concatenate([vibrato_tone(0.3), glide(0.3)]).astype(np.float32)
    reference = stream(y, PitchTracker(SR, FMIN, FMAX, lag=3), [y.shape[0]])

    @settings(max_examples=15, deadline=None, derandomize=True)
    @given(st.lists(st.integers(0, 5000), min_size=1, max_size=40))
    def check(sizes):
        if not any(sizes):
            sizes = sizes + [1]
        out = stream(y, PitchTracker(SR, FMIN, FMAX, lag=3), sizes)
        for field in ("index", "voiced", "best_f0", "confidence"):
            np.testing.assert_array_equal(getattr(out, field), getattr(reference, field))

    check()
