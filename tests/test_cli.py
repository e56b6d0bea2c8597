"""`timbrel` through its real entry point (a subprocess), on real files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "timbrel"
COMMANDS = ["analyse", "train", "predict", "demo", "gui"]
# Small, quick settings for the round trips; the demo test checks the real defaults.
QUICK = ["--fits", "3", "--max-iter", "30", "--seed", "7"]


def timbrel(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "app.cli"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd + [str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def assert_one_line_error(r: subprocess.CompletedProcess, code: int = 1) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("timbrel")
    return lines[0]


@pytest.fixture(scope="module")
def small_set(tmp_path_factory, copy_train_notes) -> Path:
    """Four notes per class from assets/train, in label folders."""
    return copy_train_notes(tmp_path_factory.mktemp("small"), 4)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, assets_dir) -> dict:
    """analyse assets/train -> DIR, train DIR -> MODEL: the first half of the round trip."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    out, model = tmp / "analysis", tmp / "model.timbrel.json"
    analyse = timbrel("analyse", assets_dir / "train", "--out", out)
    train = timbrel("train", out, "--out", model, *QUICK)
    return {"dir": out, "model": model, "analyse": analyse, "train": train}


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_every_command(command):
    r = timbrel(command, "--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: timbrel {command}")


def test_top_level_help_lists_commands():
    r = timbrel("--help")
    assert r.returncode == 0
    for command in COMMANDS:
        assert command in r.stdout


def test_analyse_writes_flucoma_files(trained, assets_dir):
    r = trained["analyse"]
    assert r.returncode == 0, r.stderr
    dataset = json.loads((trained["dir"] / "dataset.json").read_text())
    labels = json.loads((trained["dir"] / "labels.json").read_text())
    n_files = len(list((assets_dir / "train").rglob("*.flac")))
    clip_ids = {i.rsplit("-", 1)[0] for i in dataset["data"]}
    assert len(clip_ids) == n_files
    assert set(dataset["data"]) == set(labels["data"])
    assert labels["cols"] == 1 and {v[0] for v in labels["data"].values()} == {"oboe", "trombone"}
    assert all(len(v) == dataset["cols"] for v in dataset["data"].values())
    for point_id, (label,) in labels["data"].items():
        assert point_id.startswith(label + "/")       # label = folder name


def test_train_prints_each_fit_and_writes_bundle(trained):
    r = trained["train"]
    assert r.returncode == 0, r.stderr
    fit_lines = [line for line in r.stdout.splitlines() if line.startswith("fit ")]
    assert len(fit_lines) == 3
    bundle = json.loads(trained["model"].read_text())
    assert bundle["format"] == "timbrel-bundle" and bundle["version"] == 1
    assert bundle["labels"] == ["oboe", "trombone"]


def test_predict_json_schema_and_accuracy(trained, assets_dir):
    r = timbrel("predict", trained["model"], assets_dir / "test", "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)               # nothing but JSON on stdout
    files = sorted((assets_dir / "test").rglob("*.flac"))
    assert len(results) == len(files)
    correct = 0
    for item in results:
        assert {"path", "label", "confidence", "probabilities", "frames"} <= set(item)
        assert item["label"] in ("oboe", "trombone")
        assert set(item["probabilities"]) == {"oboe", "trombone"}
        assert sum(item["probabilities"].values()) == pytest.approx(1.0, abs=1e-6)
        assert item["confidence"] == pytest.approx(item["probabilities"][item["label"]])
        assert item["confidence"] == max(item["probabilities"].values())
        assert isinstance(item["frames"], int) and item["frames"] > 0
        correct += item["label"] == Path(item["path"]).parent.name
    # even 3 quick fits must beat chance clearly on unseen notes
    assert correct / len(results) >= 0.8


def test_predict_text_output(trained, assets_dir):
    f = sorted((assets_dir / "test" / "fluidr3" / "oboe").glob("*.flac"))[0]
    r = timbrel("predict", trained["model"], f)
    assert r.returncode == 0, r.stderr
    assert str(f) in r.stdout and "frames:" in r.stdout


def test_train_is_deterministic_with_seed(small_set, tmp_path):
    a, b, c = tmp_path / "a.timbrel.json", tmp_path / "b.timbrel.json", tmp_path / "c.timbrel.json"
    assert timbrel("train", small_set, "--out", a, *QUICK).returncode == 0
    assert timbrel("train", small_set, "--out", b, *QUICK).returncode == 0
    other = [*QUICK[:-1], "8"]
    assert timbrel("train", small_set, "--out", c, *other).returncode == 0
    assert a.read_bytes() == b.read_bytes()
    assert json.loads(a.read_text())["model"] != json.loads(c.read_text())["model"]


def test_analyse_reports_bad_files_and_keeps_the_good(small_set, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(small_set, folder)
    bad = folder / "oboe"
    (bad / "empty.wav").write_bytes(b"")
    (bad / "text.wav").write_text("this is not audio\n" * 20)
    good = next(iter(sorted((folder / "trombone").glob("*.flac"))))
    (bad / "corrupt.flac").write_bytes(good.read_bytes()[:64] + os.urandom(3000))
    out = tmp_path / "out"
    r = timbrel("analyse", folder, "--out", out)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for name in ("empty.wav", "text.wav", "corrupt.flac"):
        assert name in r.stderr
    labels = json.loads((out / "labels.json").read_text())["data"]
    clips = {i.rsplit("-", 1)[0] for i in labels}
    assert clips == {f"{p.parent.name}/{p.stem}" for p in small_set.rglob("*.flac")}


def test_analyse_with_nothing_usable_fails(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.wav").write_text("not audio")
    r = timbrel("analyse", tmp_path / "x", "--out", tmp_path / "out")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "a.wav" in r.stderr
    assert not (tmp_path / "out" / "dataset.json").exists()


@pytest.mark.parametrize("content", [
    '{"format": "timbrel-bundle", "version": 1, "labels": ["a", "b"], "spec": {',   # truncated
    "\x00\x01garbage",
    '{"cols": 2, "data": {"a": [1, 2]}}',                                          # a FluCoMa DataSet
    '[1, 2, 3]',
])
def test_predict_with_corrupt_or_foreign_bundle(content, tmp_path, small_set):
    model = tmp_path / "bad.timbrel.json"
    model.write_text(content)
    line = assert_one_line_error(timbrel("predict", model, small_set))
    assert str(model) in line


def test_predict_with_unknown_version(trained, tmp_path, small_set):
    d = json.loads(trained["model"].read_text())
    d["version"] = 99
    model = tmp_path / "future.timbrel.json"
    model.write_text(json.dumps(d))
    line = assert_one_line_error(timbrel("predict", model, small_set))
    assert "version 99" in line


def test_predict_missing_model(tmp_path, small_set):
    assert_one_line_error(timbrel("predict", tmp_path / "nope.timbrel.json", small_set))


def test_predict_bad_audio_keeps_json_clean(trained, tmp_path, small_set):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    good = sorted(small_set.rglob("*.flac"))[0]
    r = timbrel("predict", trained["model"], good, bad, "--json")
    assert r.returncode == 1
    assert [item["path"] for item in json.loads(r.stdout)] == [str(good)]
    assert "bad.wav" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("args", [
    ["train", "somewhere"],                                   # --out missing
    ["analyse", "x", "--out", "y", "--features", "pitch,nonsense"],
    ["train", "x", "--out", "y", "--fits", "2", "--until-plateau"],
    ["frobnicate"],
])
def test_usage_errors_exit_2_with_one_line(args):
    assert_one_line_error(timbrel(*args), code=2)


def test_train_bad_setting_is_a_usage_error(small_set, tmp_path):
    assert_one_line_error(timbrel("train", small_set, "--out", tmp_path / "m.json", "--learn-rate", "-1"),
                          code=2)


def test_knn_round_trip(small_set, tmp_path, assets_dir):
    model = tmp_path / "knn.timbrel.json"
    r = timbrel("train", small_set, "--out", model, "--algorithm", "knn")
    assert r.returncode == 0, r.stderr
    r = timbrel("predict", model, small_set, "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    # a 3-NN classifier on its own training clips gets (almost) every clip right
    assert sum(i["label"] == Path(i["path"]).parent.name for i in results) >= len(results) - 1
