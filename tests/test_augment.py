"""dsp.augment: copies that sound like other recordings of the same note, reproducibly."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from dsp.augment import TRANSFORMS, AugmentSettings, augment, augmented_copies
from dsp.features import FeatureExtractor, FeatureSpec


def note(assets_dir, name="train/fluidr3/oboe/oboe_C5_v80.flac"):
    y, sr = sf.read(assets_dir / name)
    return y, sr


def test_same_seed_same_copies_bit_for_bit(assets_dir):
    y, sr = note(assets_dir)
    s = AugmentSettings(copies=3, seed=5)
    a = augmented_copies(y, sr, "oboe/C5", s)
    b = augmented_copies(y, sr, "oboe/C5", s)
    assert len(a) == 3
    for x, z in zip(a, b):
        assert np.array_equal(x, z)
    other_seed = augmented_copies(y, sr, "oboe/C5", AugmentSettings(copies=3, seed=6))
    other_clip = augmented_copies(y, sr, "oboe/D5", s)
    assert not np.array_equal(a[0], other_seed[0])
    assert not np.array_equal(a[0], other_clip[0])


def test_each_transformation_changes_the_audio(assets_dir):
    y, sr = note(assets_dir)
    changed = {}
    for t in TRANSFORMS:
        outs = [augment(y, sr, np.random.default_rng(i), (t,)) for i in range(6)]
        changed[t] = any(o.shape != y.shape or not np.allclose(o, y) for o in outs)
    assert all(changed.values()), changed


@pytest.mark.parametrize("name, midi", [("train/fluidr3/oboe/oboe_C5_v80.flac", 72),
                                        ("train/timgm6mb/trombone/trombone_C3_v80.flac", 48)])
def test_copies_keep_the_note(assets_dir, name, midi):
    """Detuning stays within +-30 cents and nothing else moves the pitch: every copy is still the note."""
    y, sr = note(assets_dir, name)
    spec = FeatureSpec(features=("pitch",))
    for copy in augmented_copies(y, sr, name, AugmentSettings(copies=4, seed=1)):
        fr = FeatureExtractor(spec).analyse(copy)
        voiced = fr.voiced & fr.usable
        assert voiced.sum() > 10
        assert abs(np.median(12 * np.log2(fr.f0[voiced] / 440.0) + 69) - midi) < 0.5


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown transformation"):
        AugmentSettings(transforms=("gain", "chorus"))
    with pytest.raises(ValueError, match="copies"):
        AugmentSettings(copies=-1)
