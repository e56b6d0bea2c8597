"""dsp.pitch.pyin against librosa.pyin (the reference), and its handling of bad input."""
from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest

from dsp.pitch import pyin
from test_pitch_signals import (FMAX, FMIN, SR, agreement, glide, instrument_clips,
                                pure_tone, vibrato_tone)

KW = dict(sr=SR, fmin=FMIN, fmax=FMAX)


def assert_agrees(y: np.ndarray, **kw) -> dict:
    params = {**KW, **kw}
    ref = librosa.pyin(y, **params)
    ours = pyin(y, **params)
    assert ours[0].shape == ref[0].shape and ours[1].dtype == bool
    a = agreement(ref, ours)
    assert a["voicing"] >= 0.99, a
    assert a["f0_10c"] >= 0.995, a
    assert a["vp_max"] <= 0.02, a
    # unvoiced frames carry fill_na exactly where librosa puts it
    np.testing.assert_array_equal(np.isnan(ours[0]), np.isnan(ref[0]))
    return a


@pytest.fixture(scope="module")
def clips(assets_dir, tmp_path_factory):
    return instrument_clips(assets_dir, tmp_path_factory.mktemp("renders"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_vibrato_tone_agrees(dtype):
    a = assert_agrees(vibrato_tone().astype(dtype))
    assert a["both_voiced"] > 20  # the test is about pitched frames


@pytest.mark.parametrize("lo,hi", [(90.0, 900.0), (1800.0, 200.0)])
def test_glide_agrees(lo, hi):
    assert_agrees(glide(lo=lo, hi=hi).astype(np.float32))


@pytest.mark.parametrize("freq", [65.5, 110.0, 261.63, 440.0, 1000.0, 2000.0])
def test_clean_pure_tone_agrees(freq):
    # voiced_prob is exactly 1 on most frames here: librosa's rounding knife-edge
    y = pure_tone(freq)
    for dtype in (np.float32, np.float64):
        assert_agrees(y.astype(dtype))


def test_white_noise_agrees():
    y = 0.3 * np.random.default_rng(7).standard_normal(SR).astype(np.float32)
    assert_agrees(y)


def test_instrument_renders_agree(clips):
    for name, y in clips.items():
        a = assert_agrees(y)
        assert a["both_voiced"] > 10, name


def test_instrument_pitch_is_the_played_note(clips):
    f0, voiced, _ = pyin(clips["trombone_Ab2_v80"] if "trombone_Ab2_v80" in clips
                         else clips["trombone_Ab2"], **KW)
    midi = 12 * np.log2(np.nanmedian(f0[voiced]) / 440) + 69
    assert abs(midi - 44) < 0.5  # Ab2


@pytest.mark.parametrize("kw", [
    dict(frame_length=1024, hop_length=256, fmin=100.0, fmax=1000.0),  # other block sizes
    dict(hop_length=300),  # frame not a whole number of hops: per-frame FFT path
    dict(center=False), dict(pad_mode="reflect"), dict(fill_na=None), dict(fill_na=-1.0),
    dict(resolution=0.05, max_transition_rate=20.0, switch_prob=0.05, no_trough_prob=0.02),
    dict(n_thresholds=50, beta_parameters=(1.0, 10.0), boltzmann_parameter=1.5),
])
def test_parameters_match_librosa(kw):
    y = np.concatenate([vibrato_tone(0.5), glide(0.5)]).astype(np.float32)
    assert_agrees(y, **kw)


def test_fill_na_none_gives_best_guess_everywhere():
    f0, voiced, _ = pyin(vibrato_tone(0.6), fill_na=None, **KW)
    assert np.isfinite(f0).all() and (~voiced).any()
    assert (f0 >= FMIN * 0.999).all() and (f0 <= FMAX * 1.001).all()


def test_multichannel_is_per_channel():
    y = np.stack([vibrato_tone(0.5), glide(0.5)]).astype(np.float32)
    f0, voiced, prob = pyin(y, **KW)
    assert f0.shape == voiced.shape == prob.shape == (2, 1 + y.shape[1] // 512)
    for ch in range(2):
        single = pyin(y[ch], **KW)
        np.testing.assert_array_equal(voiced[ch], single[1])
        np.testing.assert_array_equal(prob[ch], single[2])


# ----------------------------------------------------------------------------- bad input


def test_silence_is_unvoiced():
    f0, voiced, prob = pyin(np.zeros(SR // 2, dtype=np.float32), **KW)
    assert not voiced.any() and np.isnan(f0).all() and (prob == 0).all()


def test_dc_is_unvoiced_and_matches_librosa():
    y = np.full(SR // 2, 0.5, dtype=np.float32)
    _, voiced, _ = pyin(y, **KW)
    assert not voiced[2:-2].any()
    assert_agrees(y)


def test_clipped_tone_matches_librosa():
    y = np.clip(3 * pure_tone(196.0), -0.8, 0.8).astype(np.float32)
    f0, voiced, _ = pyin(y, **KW)
    assert voiced.mean() > 0.8
    assert abs(12 * np.log2(np.median(f0[voiced]) / 196.0)) < 0.2
    assert_agrees(y)


@pytest.mark.parametrize("n", [0, 1, 220])  # empty, one sample, 10 ms
def test_tiny_signals_give_one_frame_like_librosa(n):
    y = (0.5 * np.sin(np.arange(n) * 0.3)).astype(np.float32)
    f0, voiced, prob = pyin(y, **KW)
    assert f0.shape == (1 + n // 512,)
    assert_agrees(y)


def test_short_signal_without_centering_is_an_error():
    with pytest.raises(ValueError, match="shorter than a frame"):
        pyin(np.zeros(1000), center=False, **KW)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_are_an_error(bad):
    y = pure_tone(220.0).astype(np.float32)
    y[1234] = bad
    with pytest.raises(ValueError, match="NaN or infinite"):
        pyin(y, **KW)


def test_integer_audio_is_an_error():
    with pytest.raises(ValueError, match="floating point"):
        pyin(np.zeros(4096, dtype=np.int16), **KW)


@pytest.mark.parametrize("kw,match", [
    (dict(fmin=100.0, fmax=20000.0), "Nyquist"),
    (dict(fmin=500.0, fmax=400.0), "less than"),
    (dict(fmin=0.0, fmax=400.0), "positive"),
    (dict(fmin=5.0, fmax=400.0), "too small"),
    (dict(fmin=FMIN, fmax=FMAX, resolution=1.5), "resolution"),
])
def test_bad_parameters_are_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        pyin(np.zeros(4096), sr=SR, **kw)


def test_low_fmin_warns_like_librosa():
    with pytest.warns(UserWarning, match="two periods"):
        pyin(np.zeros(4096), sr=SR, fmin=15.0, fmax=400.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pyin(np.zeros(4096), **KW)


# ----------------------------------------------------------------------------- internals


def test_transition_tables_are_librosas():
    from dsp.pitch import _transition_local

    for n, width in ((601, 101), (50, 11), (30, 8)):
        np.testing.assert_array_equal(
            _transition_local(n, width),
            librosa.sequence.transition_local(n, width, window="triangle", wrap=False))


def test_candidate_pruning_never_changes_the_decoding():
    # the pruning is an exactness argument (a dominated state can never be decoded);
    # check it against decoding every candidate, on pitched audio and on noise
    import dataclasses

    from dsp import pitch

    m = pitch._model(float(SR), FMIN, FMAX, 2048, 512, 100, (2.0, 18.0), 2.0, 0.1, 35.92,
                     0.01, 0.01)
    keep_all = dataclasses.replace(m, prune_margin=np.inf)
    rng = np.random.default_rng(11)
    for y in (np.concatenate([vibrato_tone(0.7), glide(0.7)]), 0.3 * rng.standard_normal(SR)):
        a = pitch._pyin_channel(y, m, None, True, "constant")
        b = pitch._pyin_channel(y, keep_all, None, True, "constant")
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
