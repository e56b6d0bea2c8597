"""app/project.py: a project folder saves and reopens identically, atomically, with clips copied in."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.project import PROJECT_FILE, Project, ProjectError


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMBREL_HOME", str(tmp_path / "home"))


def _clip(p: Project, label: str, src: Path, n: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return p.add_clip(label, src, np.arange(n) * 2, rng.normal(size=(n, 2)), columns=["pitch", "confidence"],
                      duration=1.5)


def test_save_reopen_identical(tmp_path, assets_dir):
    src = sorted((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))[:2]
    p = Project.create(tmp_path / "proj")
    a = _clip(p, "oboe", src[0], 5, 1)
    b = _clip(p, "trombone", src[1], 3, 2)
    p.set_colour("oboe", "#123456")
    p.training = {"learn_rate": 0.02}
    p.save()
    assert (tmp_path / "proj" / a.file).read_bytes() == src[0].read_bytes()  # copied in
    q = Project.open(tmp_path / "proj")
    assert q.to_meta() == p.to_meta()
    ids_p, m_p, l_p = p.points()
    ids_q, m_q, l_q = q.points()
    assert ids_p == ids_q and l_p == l_q
    np.testing.assert_array_equal(m_p, m_q)
    assert json.loads((tmp_path / "proj" / "labels.json").read_text())["data"][f"{b.id}-4"] == ["trombone"]


def test_delete_and_undo_restores_audio(tmp_path, assets_dir):
    src = sorted((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))[0]
    p = Project.create(tmp_path / "proj")
    c = _clip(p, "oboe", src)
    rec = p.remove_clip(c.id)
    assert not (tmp_path / "proj" / c.file).exists() and p.n_points() == 0
    p.restore_clip(rec)
    assert (tmp_path / "proj" / c.file).exists() and p.n_points() == 5


def test_relabel_rename_and_class_delete(tmp_path, assets_dir):
    src = sorted((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))[0]
    p = Project.create(tmp_path / "proj")
    c = _clip(p, "oboe", src)
    p.add_class("trombone")
    assert p.relabel_clip(c.id, "trombone") == "oboe"
    p.rename_class("trombone", "bone")
    assert p.clips[c.id].label == "bone"
    with pytest.raises(ProjectError):
        p.rename_class("oboe", "bone")
    info, pos, removed = p.delete_class("bone")
    assert not p.clips
    p.restore_class(info, pos, removed)
    assert p.clips[c.id].label == "bone"


def test_read_only_and_save_as(tmp_path, assets_dir):
    src = sorted((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))[0]
    p = Project.create(tmp_path / "proj")
    _clip(p, "oboe", src)
    p.save()
    ro = Project.open(tmp_path / "proj", read_only=True)
    with pytest.raises(ProjectError):
        ro.save()
    with pytest.raises(ProjectError):
        _clip(ro, "oboe", src)
    ro.save_as(tmp_path / "copy")
    assert not ro.read_only
    q = Project.open(tmp_path / "copy")
    assert q.n_points() == 5 and all((tmp_path / "copy" / c.file).exists() for c in q.clips.values())


def test_crash_mid_save_leaves_previous_project(tmp_path, assets_dir, monkeypatch):
    src = sorted((assets_dir / "train" / "fluidr3" / "oboe").glob("*.flac"))[0]
    p = Project.create(tmp_path / "proj")
    _clip(p, "oboe", src)
    p.save()
    before = (tmp_path / "proj" / PROJECT_FILE).read_text()
    _clip(p, "oboe", src, 4, 3)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        p.save()
    monkeypatch.undo()
    assert (tmp_path / "proj" / PROJECT_FILE).read_text() == before
    assert Project.open(tmp_path / "proj").n_points() == 5
    assert not [f for f in os.listdir(tmp_path / "proj") if f.endswith(".tmp")]


def test_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="not a Timbrel project"):
        Project.open(tmp_path)
    (tmp_path / PROJECT_FILE).write_text("{broken")
    with pytest.raises(ProjectError, match="Cannot read"):
        Project.open(tmp_path)
