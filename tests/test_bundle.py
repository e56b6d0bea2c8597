"""app.bundle: one *.timbrel.json holding spec + scaler + model + labels; clear errors when damaged."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.analysis import analyse_paths
from app.bundle import Bundle, BundleError, training_record
from app.training import Trainer, TrainSettings
from dsp.features import FeatureSpec

SPEC = FeatureSpec(features=("pitch", "confidence", "mfcc"))


@pytest.fixture(scope="module")
def clips(tmp_path_factory, copy_train_notes) -> Path:
    return copy_train_notes(tmp_path_factory.mktemp("clips"), 3)


def make_bundle(clips: Path, level: str = "frame", **settings) -> tuple[Bundle, object]:
    analysis = analyse_paths([clips], SPEC, level=level)
    s = TrainSettings(**{"hidden": (6,), "fits": 3, "max_iter": 30, "seed": 2,
                         "validation": 0.0 if level == "clip" else 0.2, **settings})
    result = Trainer(analysis.dataset, analysis.labels, s).run()
    bundle = Bundle(analysis.spec, result.scaler, result.model, analysis.classes(), analysis.level,
                    analysis.columns, training_record(s.to_dict(), [r.error for r in result.reports],
                                                      result.stopped_by))
    return bundle, analysis


@pytest.fixture(scope="module")
def trained(clips):
    return make_bundle(clips)


def test_round_trip_predicts_the_same(trained, tmp_path):
    bundle, analysis = trained
    path = bundle.save(tmp_path / "m.timbrel.json")
    loaded = Bundle.load(path)
    assert loaded.labels == bundle.labels == ["oboe", "trombone"]
    assert loaded.spec == bundle.spec
    assert loaded.extractor().spec == SPEC
    _, rows = analysis.dataset.to_numpy()
    for row in rows[::17]:
        a, b = bundle.predict_proba_point(row), loaded.predict_proba_point(row)
        assert list(a) == bundle.labels
        assert sum(a.values()) == pytest.approx(1.0)
        assert a == pytest.approx(b, abs=1e-12)
    assert [p.name for p in tmp_path.iterdir()] == ["m.timbrel.json"]     # no temp files left


def test_bundle_json_holds_flucoma_dumps(trained, tmp_path):
    bundle, _ = trained
    d = json.loads(bundle.save(tmp_path / "m.timbrel.json").read_text())
    assert d["format"] == "timbrel-bundle" and d["version"] == 1
    assert d["scaler"]["type"] == "standardize" and set(d["scaler"]["data"]) >= {"cols", "mean", "std"}
    assert d["model"]["type"] == "mlp" and set(d["model"]["data"]) == {"labels", "mlp"}
    assert d["spec"]["features"] == ["pitch", "confidence", "mfcc"]
    assert len(d["training"]["errors"]) == 3


def test_predict_file_uses_the_training_features(trained, clips):
    bundle, analysis = trained
    f = sorted((clips / "trombone").glob("*.flac"))[0]
    p = bundle.predict_file(f)
    clip = next(c for c in analysis.clips if c.path == f)
    assert p.frames == clip.frames
    assert p.label == max(p.probabilities, key=p.probabilities.get)
    assert p.confidence == p.probabilities[p.label]
    assert sum(p.shares.values()) == pytest.approx(1.0)
    # the decision is the mean over exactly the rows the analysis stored for that clip
    ids, rows = analysis.dataset.to_numpy()
    mine = [r for i, r in zip(ids, rows) if i.rsplit("-", 1)[0] == clip.clip_id]
    mean = np.mean([list(bundle.predict_proba_point(r).values()) for r in mine], axis=0)
    assert list(p.probabilities.values()) == pytest.approx(mean.tolist())


def test_predict_file_with_bad_audio_raises_value_error(trained, tmp_path):
    bad = tmp_path / "x.wav"
    bad.write_text("text")
    with pytest.raises(ValueError, match="x.wav"):
        trained[0].predict_file(bad)


def test_knn_and_clip_level_bundles_round_trip(clips, tmp_path):
    for level, algorithm in (("frame", "knn"), ("clip", "mlp")):
        bundle, analysis = make_bundle(clips, level=level, algorithm=algorithm)
        loaded = Bundle.load(bundle.save(tmp_path / f"{level}-{algorithm}.timbrel.json"))
        assert loaded.level == level
        f = analysis.clips[0].path
        assert loaded.predict_file(f).probabilities == pytest.approx(bundle.predict_file(f).probabilities)


def _write(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "b.timbrel.json"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


@pytest.mark.parametrize("content, message", [
    ('{"format": "timbrel-bundle", "version": 1, "spec"', "corrupt"),
    (b"\xff\xfe\x00garbage", r"not a Timbrel model bundle \(a binary file\)"),
    ('{"cols": 2, "data": {}}', "not a Timbrel model bundle"),
    ("[]", "not a Timbrel model bundle"),
    ('{"format": "timbrel-bundle", "version": 7}', "version 7"),
    ('{"format": "timbrel-bundle", "version": 1, "spec": {}, "labels": ["a", "b"]}', "damaged"),
])
def test_bad_bundles_raise_one_line_bundle_error(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(BundleError, match=message) as err:
        Bundle.load(path)
    assert isinstance(err.value, ValueError)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_damaged_model_section(trained, tmp_path):
    d = trained[0].to_dict()
    d["model"]["data"]["mlp"]["layers"] = "oops"
    with pytest.raises(BundleError, match="damaged"):
        Bundle.load(_write(tmp_path, json.dumps(d)))
    d = trained[0].to_dict()
    d["model"]["type"] = "svm"
    with pytest.raises(BundleError, match="svm"):
        Bundle.load(_write(tmp_path, json.dumps(d)))


def test_missing_bundle(tmp_path):
    with pytest.raises(BundleError, match="no such model file"):
        Bundle.load(tmp_path / "nope.timbrel.json")


def test_knn_keeps_its_neighbour_count_and_weighting(clips, tmp_path):
    # FluCoMa's KNN JSON stores neither; the bundle keeps them beside the dump
    bundle, analysis = make_bundle(clips, algorithm="knn", num_neighbours=7)
    bundle.model.weight = False
    loaded = Bundle.load(bundle.save(tmp_path / "k.timbrel.json"))
    assert (loaded.model.num_neighbours, loaded.model.weight) == (7, False)
    _, rows = analysis.dataset.to_numpy()
    for row in rows[::23]:
        assert loaded.predict_proba_point(row) == pytest.approx(bundle.predict_proba_point(row))


def test_a_number_too_long_for_python_names_the_file(tmp_path):
    path = tmp_path / "huge.timbrel.json"
    path.write_text('{"format": "timbrel-bundle", "version": ' + "9" * 5000 + "}")
    with pytest.raises(BundleError, match="huge.timbrel.json"):
        Bundle.load(path)
