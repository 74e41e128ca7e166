"""Verdict inputs: Sharpe intervals (Mertens), seed and CPCV spreads, and reasons."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from deepalloc.backtest import backtest
from deepalloc.reporting import verdicts


def _mertens_interval(r, ppy, z):
    """Mertens (2002) interval written out: se^2 = (1 + SR^2/2 - g3 SR + (g4-3)/4 SR^2) / T."""
    r = np.asarray(r, float)
    sr = r.mean() / r.std(ddof=1)
    d = r - r.mean()
    m2 = np.mean(d**2)
    g3 = np.mean(d**3) / m2**1.5
    g4 = np.mean(d**4) / m2**2
    se = math.sqrt((1 + sr**2 / 2 - g3 * sr + (g4 - 3) / 4 * sr**2) / len(r))
    k = math.sqrt(ppy)
    return sr * k, (sr - z * se) * k, (sr + z * se) * k


def test_sharpe_intervals_match_mertens_formula(suite):
    table = verdicts.sharpe_intervals(suite.backtests, confidence=0.9, periods_per_year=252)
    assert list(table.index) == list(suite.backtests)
    for name, res in suite.backtests.items():
        sr, low, high = _mertens_interval(res.returns, 252, 1.6448536269514722)
        # same formula, different operation order: a few ulps of the Sharpe ratio
        assert table.loc[name, "sharpe"] == pytest.approx(sr, rel=1e-12)
        assert table.loc[name, "ci_low"] == pytest.approx(low, rel=1e-10)
        assert table.loc[name, "ci_high"] == pytest.approx(high, rel=1e-10)
    # the point is the metrics table's Sharpe ratio
    np.testing.assert_allclose(
        table["sharpe"], suite.table.loc[table.index, "sharpe_ratio"], rtol=1e-12
    )
    with pytest.raises(ValueError, match="confidence"):
        verdicts.sharpe_intervals(suite.backtests, confidence=1.5)


def test_seed_spreads_are_the_seed_rows_sharpe(suite):
    spreads = verdicts.seed_spreads(suite)
    assert list(spreads) == ["dense:ensemble"]
    expected = suite.table.loc[["dense:seed0", "dense:seed1"], "sharpe_ratio"].tolist()
    assert spreads["dense:ensemble"] == expected
    assert verdicts.path_spreads(suite) == {}


def test_path_spreads_and_summary(cpcv_suite):
    spreads = verdicts.path_spreads(cpcv_suite)
    sharpe = cpcv_suite.path_tables["sharpe_ratio"]
    assert set(spreads) == set(cpcv_suite.table.index)
    for name, values in spreads.items():
        assert values == sharpe.xs(name, level="strategy").tolist()
    summary = verdicts.path_summary(cpcv_suite.path_tables, ["sharpe_ratio"])
    for name in cpcv_suite.table.index:
        values = np.array(spreads[name])
        assert summary.loc[name, "sharpe_ratio mean"] == pytest.approx(values.mean())
        assert summary.loc[name, "sharpe_ratio max"] == values.max()
        assert summary.loc[name, "sharpe_ratio std"] == pytest.approx(values.std(ddof=1))


def test_significance_or_reason(suite):
    table, reason = verdicts.significance_or_reason(suite)
    assert reason is None
    pd.testing.assert_frame_equal(table, suite.significance())
    note = verdicts.reading_note(table)
    assert f"{int(table['n_trials'].iloc[0])} trials" in note and "Holm" in note
    alone = dataclasses.replace(
        suite,
        table=suite.table.loc[["equal_weight"]],
        backtests={"equal_weight": suite.backtests["equal_weight"]},
    )
    table, reason = verdicts.significance_or_reason(alone)
    assert table.empty and "nothing to compare" in reason
    weights = suite.weights["equal_weight"].iloc[:2]
    short = backtest(weights, suite.backtests["equal_weight"].holdings.iloc[:3] * 0 + 0.01)
    tiny = dataclasses.replace(suite, backtests={"equal_weight": short, "other": short})
    table, reason = verdicts.significance_or_reason(tiny)
    assert table.empty and reason.startswith("they could not be computed (")


def test_a_failing_test_is_stated_not_raised(suite, monkeypatch):
    def divide(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr(type(suite), "significance", divide)
    table, reason = verdicts.significance_or_reason(suite)
    assert table.empty
    assert reason == ("they could not be computed (ZeroDivisionError: float division by zero)")
