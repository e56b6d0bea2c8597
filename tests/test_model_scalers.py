"""Scalers: FluCoMa's formulas and dumps, inverse transforms, degenerate columns, bad input."""
import numpy as np
import pytest

from model import DataSet, NotFittedError, Normalize, RobustScale, Standardize

rng = np.random.default_rng(7)
M = rng.normal(3.0, 2.0, size=(50, 3)) * [1, 10, 0.1]
M[:, 2] = 4.0  # a constant column
DS = DataSet.from_numpy([str(i) for i in range(50)], M)


def test_normalize_maps_to_range_and_back():
    n = Normalize(-1, 1).fit(DS)
    _, out = n.transform(DS).to_numpy()
    assert np.allclose(out[:, :2].min(0), -1) and np.allclose(out[:, :2].max(0), 1)
    assert np.allclose(out[:, 2], -1)  # range 0 counts as 1: shifted onto min
    assert np.allclose(n.inverse_transform(n.transform(DS)).to_numpy()[1], M)
    d = n.to_dict()
    assert sorted(d) == ["cols", "data_max", "data_min", "max", "min"]
    assert np.allclose(d["data_min"], M.min(0)) and d["min"] == -1 and d["max"] == 1


def test_standardize_uses_population_std():
    s = Standardize().fit(DS)
    _, out = s.transform(DS).to_numpy()
    assert np.allclose(out[:, :2].mean(0), 0) and np.allclose(out[:, :2].std(0), 1)
    assert np.allclose(s.to_dict()["std"][:2], M[:, :2].std(0, ddof=0))
    assert np.allclose(out[:, 2], 0)


def test_robust_scale_matches_percentiles():
    r = RobustScale(10, 90).fit(DS)
    d = r.to_dict()
    assert sorted(d) == ["cols", "data_high", "data_low", "high", "low", "median", "range"]
    # FluCoMa's nearest-rank percentiles (RobustScaling.hpp): sorted[lrint(p * (n - 1))], n = 50
    srt = np.sort(M, axis=0)
    lo, med, hi = srt[5], srt[24], srt[44]  # rint(4.9) = 5, rint(24.5) = 24 (ties to even), rint(44.1) = 44
    assert np.allclose(d["median"], med) and np.allclose(d["range"][:2], (hi - lo)[:2])
    assert d["range"][2] == 1.0  # constant column: FluCoMa dumps the range it divides by, 1
    x = M[5]
    assert np.allclose(r.transform_point(x)[:2], (x[:2] - med[:2]) / (hi - lo)[:2])
    assert np.allclose(r.inverse_transform_point(r.transform_point(x)), x)


@pytest.mark.parametrize("scaler", [Normalize(), Standardize(), RobustScale()])
def test_json_round_trip(scaler, tmp_path):
    scaler.fit(DS)
    scaler.save(tmp_path / "s.json")
    again = type(scaler).load(tmp_path / "s.json")
    assert again.to_dict() == scaler.to_dict()
    assert np.array_equal(again.transform_point(M[3]), scaler.transform_point(M[3]))


@pytest.mark.parametrize("cls", [Normalize, Standardize, RobustScale])
def test_bad_input_leaves_scaler_unchanged(cls):
    s = cls()
    with pytest.raises(NotFittedError, match="call fit"):
        s.transform_point([1, 2, 3])
    with pytest.raises(ValueError, match="empty"):
        s.fit(DataSet(3))
    s.fit(DS)
    before = s.to_dict()
    with pytest.raises(ValueError, match="3 values"):
        s.transform_point([1, 2])
    with pytest.raises(ValueError, match="NaN"):
        s.transform_point([1, np.nan, 2])
    with pytest.raises(ValueError, match="fitted on 3 columns"):
        s.transform(DataSet.from_numpy(["a"], [[1.0]]))
    with pytest.raises(ValueError, match="empty"):
        s.fit(DataSet(2))
    assert s.to_dict() == before


def test_bad_parameters_and_dumps():
    with pytest.raises(ValueError, match="low"):
        RobustScale(80, 20)
    with pytest.raises(ValueError, match="min"):
        Normalize(min=np.nan)
    with pytest.raises(ValueError, match="'std'"):
        Standardize.from_dict({"cols": 2, "mean": [0, 0]})
    with pytest.raises(ValueError, match="2 values"):
        Standardize.from_dict({"cols": 2, "mean": [0, 0, 0], "std": [1, 1]})
