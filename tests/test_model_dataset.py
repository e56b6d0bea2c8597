"""DataSet / LabelSet: editing, numpy bulk, FluCoMa JSON round trips, bad input."""
import json

import numpy as np
import pytest

from model import DataSet, JSONFileError, LabelSet, UnknownIdError


@pytest.fixture
def flucoma_dir(test_data_dir):
    return test_data_dir / "flucoma"


def test_point_editing_keeps_order_and_values():
    ds = DataSet(3)
    for i in range(40):  # past the initial capacity, so growth is exercised
        ds.add_point(f"p{i}", [i, i + 0.5, -i])
    ds.update_point("p3", [9, 9, 9])
    ds.set_point("p4", [1, 2, 3])
    ds.set_point("new", [0, 0, 0])
    ds.delete_point("p0")
    ids, m = ds.to_numpy()
    assert ids[0] == "p1" and ids[-1] == "new" and len(ds) == 40
    assert np.array_equal(ds.get_point("p3"), [9, 9, 9])
    assert np.array_equal(ds.get_point("p4"), [1, 2, 3])
    assert np.array_equal(ds.get_point("p39"), [39, 39.5, -39])
    assert np.array_equal(m[ids.index("p10")], [10, 10.5, -10])


def test_get_point_and_to_numpy_return_copies():
    ds = DataSet.from_numpy(["a"], [[1.0, 2.0]])
    ds.get_point("a")[0] = 99
    ds.to_numpy()[1][0, 0] = 99
    assert ds.get_point("a")[0] == 1.0


def test_merge_keeps_or_overwrites():
    a = DataSet.from_numpy(["x", "y"], [[1.0], [2.0]])
    b = DataSet.from_numpy(["y", "z"], [[20.0], [30.0]])
    kept = a.copy()
    kept.merge(b)
    assert kept.get_point("y")[0] == 2.0 and kept.get_point("z")[0] == 30.0
    a.merge(b, overwrite=True)
    assert a.get_point("y")[0] == 20.0 and a.ids == ["x", "y", "z"]


@pytest.mark.parametrize("bad", [[1.0], [1.0, 2.0, 3.0], [1.0, np.nan], [np.inf, 0.0], "ab", [[1.0, 2.0]]])
def test_bad_vectors_raise_and_leave_set_unchanged(bad):
    ds = DataSet.from_numpy(["a"], [[1.0, 2.0]])
    before = ds.to_dict()
    with pytest.raises(ValueError):
        ds.add_point("b", bad)
    with pytest.raises(ValueError):
        ds.update_point("a", bad)
    assert ds.to_dict() == before


def test_id_errors_name_the_problem():
    ds = DataSet.from_numpy(["a"], [[1.0]])
    with pytest.raises(ValueError, match="already"):
        ds.add_point("a", [2.0])
    with pytest.raises(UnknownIdError, match="'zz' is not in the DataSet"):
        ds.get_point("zz")
    with pytest.raises(KeyError):  # also a KeyError, like a dict
        ds.delete_point("zz")
    with pytest.raises(ValueError, match="strings"):
        ds.add_point(3, [1.0])
    with pytest.raises(ValueError, match="duplicate ids"):
        DataSet.from_numpy(["a", "a"], [[1.0], [2.0]])
    with pytest.raises(ValueError, match="2 ids but the matrix has 3 rows"):
        DataSet.from_numpy(["a", "b"], np.zeros((3, 1)))
    with pytest.raises(ValueError, match="cols"):
        DataSet(-1)
    with pytest.raises(ValueError, match="widths must match"):
        ds.merge(DataSet(2))
    assert ds.to_dict() == {"cols": 1, "data": {"a": [1.0]}}


def test_flucoma_files_round_trip(flucoma_dir, tmp_path):
    for name in ["blobs.json", "line.json", "help.reg.input.json", "help.reg.output.json"]:
        raw = json.loads((flucoma_dir / name).read_text())
        ds = DataSet.load(flucoma_dir / name)
        assert ds.cols == raw["cols"] and len(ds) == len(raw["data"])
        assert ds.to_dict() == raw  # same structure, same exact values
        ds.save(tmp_path / name)
        assert json.loads((tmp_path / name).read_text()) == raw
    raw = json.loads((flucoma_dir / "flucoma_corpus_files.json").read_text())
    ls = LabelSet.load(flucoma_dir / "flucoma_corpus_files.json")
    assert ls.to_dict() == raw and len(ls.classes()) == len(raw["data"])
    ls.save(tmp_path / "labels.json")
    assert LabelSet.load(tmp_path / "labels.json").to_dict() == raw


def test_labelset_classes_in_order_of_first_appearance():
    ls = LabelSet()
    for i, lab in enumerate(["oboe", "trombone", "oboe", "flute", "trombone"]):
        ls.add_label(str(i), lab)
    assert ls.classes() == ["oboe", "trombone", "flute"]
    ls.delete_label("0")
    ls.update_label("2", "flute")
    assert ls.classes() == ["trombone", "flute"]
    assert ls.get_label("2") == "flute" and ls.ids == ["1", "2", "3", "4"]


def test_labelset_bad_input():
    ls = LabelSet()
    ls.add_label("a", "oboe")
    for call in [lambda: ls.add_label("a", "x"), lambda: ls.add_label("b", ""), lambda: ls.add_label("b", 3),
                 lambda: ls.update_label("zz", "x"), lambda: ls.get_label("zz"), lambda: ls.add_label(1, "x")]:
        with pytest.raises(ValueError):
            call()
    assert ls.to_dict() == {"cols": 1, "data": {"a": ["oboe"]}}


@pytest.mark.parametrize("d, match", [
    ({"data": {}}, "'cols'"),
    ({"cols": 2, "data": [[1.0, 2.0]]}, "'data' must be an object"),
    ({"cols": 2, "data": {"a": [1.0]}}, "2 numbers"),
    ({"cols": 1, "data": {"a": ["x"]}}, "numbers, got \\['x'\\]"),
    ({"cols": 1, "data": {"a": [None]}}, "numbers, got \\[None\\]"),
    ([1, 2], "JSON object"),
])
def test_malformed_dataset_dicts(d, match):
    with pytest.raises(ValueError, match=match):
        DataSet.from_dict(d)


def test_labelset_rejects_dataset_json(flucoma_dir):
    with pytest.raises(JSONFileError, match="cols 1"):
        LabelSet.load(flucoma_dir / "blobs.json")
    with pytest.raises(ValueError, match="one label"):
        LabelSet.from_dict({"cols": 1, "data": {"a": ["x", "y"]}})
    with pytest.raises(ValueError, match="string label"):
        LabelSet.from_dict({"cols": 1, "data": {"a": [True]}})


def test_empty_dataset_round_trip():
    ds = DataSet.from_dict({"cols": 4, "data": {}})
    assert len(ds) == 0 and ds.cols == 4 and ds.to_numpy()[1].shape == (0, 4)


def test_any_ids_and_finite_values_round_trip_exactly(tmp_path):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    finite = st.floats(allow_nan=False, allow_infinity=False)
    points = st.dictionaries(st.text(min_size=1, max_size=8), st.lists(finite, min_size=3, max_size=3),
                             max_size=12)

    @settings(max_examples=60, deadline=None)
    @given(points, st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3))
    def check(data, names):
        ds = DataSet(3)
        ls = LabelSet()
        for k, (point_id, vec) in enumerate(data.items()):
            ds.add_point(point_id, vec)
            ls.add_label(point_id, names[k % len(names)])
        ds.save(tmp_path / "d.json")
        ls.save(tmp_path / "l.json")
        again = DataSet.load(tmp_path / "d.json")
        assert again.ids == ds.ids and np.array_equal(again.to_numpy()[1], ds.to_numpy()[1])
        assert LabelSet.load(tmp_path / "l.json").to_dict() == ls.to_dict()

    check()
