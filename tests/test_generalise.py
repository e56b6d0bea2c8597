"""app.generalise: augmentation in training, held-out calibration, the unknown answer, and a model
that carries over to a sample set it never heard (leave-one-source-out on the bundled assets)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from app.analysis import analyse_paths
from app.bundle import Bundle
from app.demo import demo_spec
from app.generalise import (augment_analysis, fit_temperature, held_out_clips, soften,
                            train_bundle_robust)
from app.training import TrainSettings, evaluate
from dsp.augment import AugmentSettings

QUICK = TrainSettings(seed=0, fits=4)


@pytest.fixture(scope="module")
def fluid_train(assets_dir):
    return analyse_paths([assets_dir / "train" / "fluidr3"], demo_spec())


@pytest.fixture(scope="module")
def fluid_bundle(fluid_train):
    return train_bundle_robust(fluid_train, QUICK, augment=AugmentSettings(copies=1))[0]


def test_augmented_points_keep_their_clip_id_and_label(fluid_train):
    ds, labels, missing = augment_analysis(fluid_train, AugmentSettings(copies=2, seed=3))
    assert missing == 0
    original = set(fluid_train.dataset.ids)
    extra = [pid for pid in ds.ids if pid not in original]
    assert len(extra) > len(original)            # two copies, most of their frames usable
    clips = {c.clip_id: c.label for c in fluid_train.clips}
    for pid in extra:
        assert fluid_train.clip_of(pid) in clips         # every split keeps them with their clip
        assert labels.get_label(pid) == clips[fluid_train.clip_of(pid)]
    again, _, _ = augment_analysis(fluid_train, AugmentSettings(copies=2, seed=3))
    assert again.to_numpy()[0] == ds.to_numpy()[0]
    assert np.array_equal(again.to_numpy()[1], ds.to_numpy()[1])


def test_held_out_clips_are_whole_groups_per_class(assets_dir):
    both = analyse_paths([assets_dir / "test"], demo_spec())
    for clip in both.clips:     # group = the source folder, as `--group-by folder` will record it
        object.__setattr__(clip, "group", clip.path.parent.parent.name)
    held = held_out_clips(both, fraction=0.5, seed=1)
    assert held
    for label in ("oboe", "trombone"):
        by_group = {}
        for c in both.clips:
            if c.label == label:
                by_group.setdefault(c.path.parent.parent.name, set()).add(c.clip_id in held)
        assert all(len(v) == 1 for v in by_group.values())          # a group is all in or all out
        assert {True, False} == {next(iter(v)) for v in by_group.values()}   # never all held out


def test_temperature_fit_softens_an_overconfident_model():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 2, 400)
    right = rng.random(400) < 0.8                 # 80 % right, but always 99.9 % sure
    winner = np.where(right, truth, 1 - truth)
    probs = np.full((400, 2), 0.001)
    probs[np.arange(400), winner] = 0.999
    t = fit_temperature(probs, truth)
    assert t > 2
    calibrated = soften({"a": 0.999, "b": 0.001}, t)
    assert 0.7 < calibrated["a"] < 0.9            # near the 80 % it really gets right


def test_calibrated_bundle_round_trips(fluid_bundle, tmp_path, assets_dir):
    assert fluid_bundle.novelty is not None and fluid_bundle.temperature != 1.0
    path = fluid_bundle.save(tmp_path / "m.timbrel.json")
    again = Bundle.load(path)
    assert again.temperature == fluid_bundle.temperature
    assert again.novelty.threshold == fluid_bundle.novelty.threshold
    clip = sorted((assets_dir / "test" / "timgm6mb" / "oboe").glob("*.flac"))[0]
    a, b = fluid_bundle.predict_file(clip), again.predict_file(clip)
    assert a.to_dict() == b.to_dict()
    d = json.loads(path.read_text())
    d["calibration"]["temperature"] = -1
    (tmp_path / "bad.timbrel.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="temperature"):
        Bundle.load(tmp_path / "bad.timbrel.json")


def test_old_bundles_without_calibration_still_load(fluid_bundle, tmp_path):
    d = fluid_bundle.to_dict()
    del d["calibration"]
    (tmp_path / "old.timbrel.json").write_text(json.dumps(d))
    old = Bundle.load(tmp_path / "old.timbrel.json")
    assert old.temperature == 1.0 and old.novelty is None


def test_leave_one_source_out_floor(fluid_bundle, assets_dir):
    """Trained on FluidR3's training notes only, tested on TimGM6mb's test notes: other notes and
    another sample set. The benchmark measures more (bench_generalise.py); this is a floor well below
    it, so a change that makes the model learn the sample set again fails here."""
    test = analyse_paths([assets_dir / "test" / "timgm6mb"], fluid_bundle.spec)
    ev = evaluate(fluid_bundle, test.dataset, test.labels, test.clip_of)
    assert len(ev.clips) == 36
    assert ev.accuracy >= 0.7, ev.confusion


def test_non_instrument_sounds_come_out_unknown_and_test_notes_do_not(fluid_bundle, assets_dir):
    """Noise, a sine sweep and whispered formants are unknown; the piano-like probes are measured in
    bench_generalise.py (a struck harmonic tone is the hard case and not asserted here)."""
    from benchmarks.bench_generalise import probes
    ex = fluid_bundle.extractor()
    for name, y in probes(fluid_bundle.spec.sr).items():
        if name.startswith("piano"):
            continue
        p = fluid_bundle.predict_frames(ex.analyse(y))
        assert p.unknown and p.label is None, (name, p)
    notes = sorted((assets_dir / "test" / "fluidr3").rglob("*.flac"))
    called_unknown = [fluid_bundle.predict_file(f).unknown for f in notes]
    assert sum(called_unknown) <= 0.1 * len(notes)
