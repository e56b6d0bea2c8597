"""app.analysis: files and folders -> DataSet + LabelSet, failures collected, not fatal."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.analysis import Analysis, AnalysisError, analyse_paths, find_audio_files, label_for
from dsp.features import FeatureSpec


@pytest.fixture()
def folder(tmp_path, assets_dir) -> Path:
    for label in ("oboe", "trombone"):
        (tmp_path / "set" / label / "deeper").mkdir(parents=True)
        src = sorted((assets_dir / "train" / "fluidr3" / label).glob("*_v115.flac"))
        shutil.copy(src[0], tmp_path / "set" / label / src[0].name)
        shutil.copy(src[1], tmp_path / "set" / label / "deeper" / src[1].name)
    (tmp_path / "set" / "oboe" / "notes.txt").write_text("not audio, not picked up from a folder")
    return tmp_path / "set"


def test_find_audio_files_recursive_sorted_unique(folder):
    files = find_audio_files([folder, folder / "oboe"])
    assert len(files) == 4
    assert all(f.suffix == ".flac" for f in files)
    assert files == sorted(files)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_audio_files([folder / "nowhere"])


def test_label_is_the_folder_name(folder):
    f = next((folder / "trombone" / "deeper").glob("*.flac"))
    assert label_for(f) == "deeper"          # the folder the file is in, as documented
    assert label_for(f, "brass") == "brass"


def test_analyse_frames_progress_and_ids(folder):
    calls = []
    a = analyse_paths([folder / "oboe", folder / "trombone"], FeatureSpec(), label=None,
                      progress=lambda d, t, p: calls.append((d, t, p.name)))
    assert [c[:2] for c in calls] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert a.failures == [] and len(a.clips) == 4
    assert sum(c.frames for c in a.clips) == len(a.dataset) == len(a.labels)
    assert a.columns == ["pitch", "confidence"] and a.dataset.cols == 2
    for pid in a.dataset.ids:
        clip_id, frame = pid.rsplit("-", 1)
        assert frame.isdigit()
        assert a.labels.get_label(pid) == clip_id.split("/")[0]


def test_failures_are_collected_and_the_rest_analysed(folder):
    (folder / "oboe" / "empty.wav").write_bytes(b"")
    (folder / "oboe" / "silence.wav").write_bytes(_silent_wav())
    a = analyse_paths([folder], FeatureSpec())
    assert len(a.clips) == 4
    reasons = {f.path.name: f.reason for f in a.failures}
    assert set(reasons) == {"empty.wav", "silence.wav"}
    assert "empty" in reasons["empty.wav"]
    assert "usable" in reasons["silence.wav"]


def test_duplicate_stems_get_unique_stable_ids(folder):
    src = next((folder / "oboe").glob("*.flac"))
    shutil.copy(src, folder / "oboe" / "deeper" / src.name)      # same stem, other folder
    a = analyse_paths([folder], FeatureSpec(), label="x")
    ids = [c.clip_id for c in a.clips]
    assert len(set(ids)) == len(ids) == 5
    assert f"x/{src.stem}" in ids and f"x/{src.stem}~2" in ids
    assert ids == [c.clip_id for c in analyse_paths([folder], FeatureSpec(), label="x").clips]


def test_clip_level_one_point_per_clip(folder):
    a = analyse_paths([folder], FeatureSpec(), level="clip")
    assert len(a.dataset) == 4 and a.dataset.cols == 10
    assert a.columns[:2] == ["pitch_mean", "pitch_std"]
    assert a.clip_of(a.dataset.ids[0]) == a.dataset.ids[0]


def test_save_and_load(folder, tmp_path):
    a = analyse_paths([folder], FeatureSpec(features=("pitch", "loudness")))
    a.save(tmp_path / "out")
    b = Analysis.load(tmp_path / "out")
    assert b.spec == a.spec and b.columns == a.columns and b.level == "frame"
    assert b.dataset.to_dict() == a.dataset.to_dict()
    assert b.labels.to_dict() == a.labels.to_dict()
    assert [c.clip_id for c in b.clips] == [c.clip_id for c in a.clips]


def test_load_without_analysis_file(tmp_path):
    with pytest.raises(AnalysisError, match="analysis.json"):
        Analysis.load(tmp_path)


def _silent_wav() -> bytes:
    import io

    import numpy as np
    import soundfile as sf
    buf = io.BytesIO()
    sf.write(buf, np.zeros(22050, dtype="float32"), 22050, format="WAV")
    return buf.getvalue()
