"""Fold labels, fold x strategy tables and the networks that stayed at equal weight."""

import numpy as np
import pandas as pd
import pytest

from deepalloc.reporting import folds as fv


def _folds(bounds):
    return pd.DataFrame(
        {
            "test_start": [pd.Timestamp(a) for a, _ in bounds],
            "test_end": [pd.Timestamp(b) for _, b in bounds],
        }
    )


def test_fold_labels_are_test_years_when_each_fold_is_one_year():
    folds = _folds([("2019-01-02", "2019-12-31"), ("2020-01-02", "2020-12-31")])
    assert fv.fold_labels(folds) == ["2019", "2020"]


def test_fold_labels_fall_back_to_start_dates():
    across = _folds([("2019-07-01", "2020-06-30"), ("2020-07-01", "2021-06-30")])
    assert fv.fold_labels(across) == ["2019-07-01", "2020-07-01"]
    same_year = _folds([("2019-01-02", "2019-06-28"), ("2019-07-01", "2019-12-31")])
    assert fv.fold_labels(same_year) == ["2019-01-02", "2019-07-01"]


def test_active_share_against_equal_weight():
    weights = pd.DataFrame([[0.25] * 4, [1.0, 0, 0, 0], [0.5, 0.5, 0, 0]])
    # 0.5 * sum |w - 1/4|: 0, 0.5 * (0.75 + 3 * 0.25), 0.5 * (2 * 0.25 + 2 * 0.25)
    np.testing.assert_allclose(fv.active_share_vs_equal_weight(weights), [0.0, 0.75, 0.5])
    with pytest.raises(ValueError, match="weights"):
        fv.active_share_vs_equal_weight(pd.DataFrame(index=[0, 1]))


def _weights(rng, dates, tilt):
    """Random weights whose active share against 1/n is about ``tilt``."""
    n = 5
    raw = rng.dirichlet(np.ones(n), size=len(dates))
    w = (1 - tilt) / n + tilt * raw  # w - 1/n = tilt (raw - 1/n)
    return pd.DataFrame(w, index=dates, columns=list("abcde"))


def test_equal_weight_distance_and_flags_follow_the_definition():
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2019-01-01", "2020-12-31")
    folds = _folds([("2019-01-01", "2019-12-31"), ("2020-01-01", "2020-12-31")])
    labels = fv.fold_labels(folds)
    learned = _weights(rng, dates, 0.9)
    lazy = pd.concat(
        [
            _weights(rng, dates[dates.year == 2019], 0.9),
            _weights(rng, dates[dates.year == 2020], 0.01),
        ]
    )
    distance = fv.equal_weight_distance({"learned": learned, "lazy": lazy}, folds, labels)
    assert list(distance.columns) == ["2019", "2020"]
    for name, frame in (("learned", learned), ("lazy", lazy)):
        for year in (2019, 2020):
            part = frame[frame.index.year == year].to_numpy()
            expected = np.mean(0.5 * np.abs(part - 0.2).sum(axis=1))
            assert distance.loc[name, str(year)] == pytest.approx(expected, rel=1e-12)
    flags = fv.did_not_learn(distance)
    assert len(flags) == 1
    assert flags[0].startswith("lazy did not learn on fold 2020:")
    assert "threshold 5%" in flags[0]
    # a threshold above every distance flags every fold, one sentence per strategy
    every = fv.did_not_learn(distance, threshold=1.0)
    assert len(every) == 2
    assert every[0].startswith("learned did not learn on folds 2019, 2020: its weights stay")
    assert every[0].endswith("active share of equal weight (threshold 100%)")


def test_equal_weight_distance_is_nan_without_decisions_in_a_fold():
    dates = pd.bdate_range("2019-01-01", "2019-12-31")
    folds = _folds([("2019-01-01", "2019-12-31"), ("2020-01-01", "2020-12-31")])
    frame = pd.DataFrame(0.25, index=dates, columns=list("abcd"))
    distance = fv.equal_weight_distance({"ew": frame}, folds, ["2019", "2020"])
    assert distance.loc["ew", "2019"] == 0.0 and np.isnan(distance.loc["ew", "2020"])
    assert fv.did_not_learn(distance) == [
        "ew did not learn on fold 2019: its weights stay within 0.0% active share of "
        "equal weight (threshold 5%)"
    ]


def test_fold_metric_table_and_network_rows():
    tables = [
        pd.DataFrame({"sharpe_ratio": [1.0, 2.0]}, index=["net", "equal_weight"]),
        pd.DataFrame({"sharpe_ratio": [3.0, 4.0]}, index=["net", "equal_weight"]),
    ]
    table = fv.fold_metric_table(tables, ["2019", "2020"], "sharpe_ratio")
    assert table.loc["net"].tolist() == [1.0, 3.0]
    assert table.loc["equal_weight"].tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match="labels"):
        fv.fold_metric_table(tables, ["2019"], "sharpe_ratio")
    runs = {"net": ["net:seed0", "net:seed1"], "solo": ["solo"]}
    names = ["net:seed0", "net:seed1", "solo", "equal_weight", "net:ensemble"]
    assert fv.network_rows(runs, names) == ["net:seed0", "net:seed1", "net:ensemble", "solo"]
