"""Atomic JSON files: clear errors for missing, empty, truncated and malformed files."""
import json
import os

import pytest

from model import DataSet, JSONFileError, MissingJSONFileError, load_json, save_json


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "d.json"
    save_json(path, {"a": [1.5, 2]})
    save_json(path, {"b": 1})
    assert json.loads(path.read_text()) == {"b": 1}
    assert os.listdir(tmp_path) == ["d.json"]


def test_failed_save_keeps_previous_file(tmp_path):
    path = tmp_path / "d.json"
    save_json(path, {"ok": True})
    with pytest.raises(JSONFileError, match="finite"):
        save_json(path, {"bad": float("nan")})
    assert json.loads(path.read_text()) == {"ok": True}
    assert os.listdir(tmp_path) == ["d.json"]


def test_save_into_missing_folder(tmp_path):
    with pytest.raises(MissingJSONFileError, match="does not exist"):
        save_json(tmp_path / "nope" / "d.json", {})


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_json(tmp_path / "none.json")
    with pytest.raises(ValueError):
        DataSet.load(tmp_path / "none.json")


@pytest.mark.parametrize("text, match", [
    ("", "empty"),
    ('{"cols": 2, "data": {"a": [1.0,', "truncated"),
    ('{"cols": 2 "data": {}}', "not valid JSON"),
])
def test_broken_files(tmp_path, text, match):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(JSONFileError, match=match):
        load_json(path)
    with pytest.raises(JSONFileError, match="broken.json"):
        DataSet.load(path)


def test_wrong_shape_names_the_file(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(JSONFileError, match="list.json.*JSON object"):
        DataSet.load(path)
