"""Metrics against an independent re-implementation of the empyrical/quantstats formulas,
on real data: an equal-weight portfolio of the bundled S&P 500 stocks."""

import math

import numpy as np
import pandas as pd
import pytest

from deepalloc import metrics as M
from deepalloc.data import prices_to_returns
from deepalloc.datasets import load_sp500


@pytest.fixture(scope="module")
def daily():
    asset = prices_to_returns(load_sp500())
    return asset.mean(axis=1).rename("ew")


def test_periods_inferred(daily):
    assert M.infer_periods_per_year(daily) == 252
    weekly = (1 + daily).resample("W-FRI").prod() - 1
    monthly = (1 + daily).resample("ME").prod() - 1
    assert M.infer_periods_per_year(weekly) == 52
    assert M.infer_periods_per_year(monthly) == 12
    with pytest.raises(ValueError, match="pass it"):
        M.infer_periods_per_year(pd.Series([0.1, 0.2]))


def test_metrics_equal_reference_formulas(daily):
    r = daily.to_numpy()
    n, ppy = len(r), 252
    log_growth = np.log1p(r).sum()
    mean, std = r.mean(), math.sqrt(((r - r.mean()) ** 2).sum() / (n - 1))
    downside = math.sqrt((np.where(r < 0, r, 0.0) ** 2).sum() / n)
    wealth = np.exp(np.concatenate([[0.0], np.cumsum(np.log1p(r))]))
    mdd = min(w / p - 1 for w, p in zip(wealth, np.maximum.accumulate(wealth)))
    cagr = math.exp(log_growth * ppy / n) - 1
    sorted_r = np.sort(r)
    q = 0.05 * (n - 1)
    lo = math.floor(q)
    var = sorted_r[lo] + (q - lo) * (sorted_r[lo + 1] - sorted_r[lo])
    cvar = sorted_r[: int((n - 1) * 0.05) + 1].mean()
    m3 = ((r - mean) ** 3).mean()
    m2 = ((r - mean) ** 2).mean()
    m4 = ((r - mean) ** 4).mean()
    skew = m3 / m2**1.5 * math.sqrt(n * (n - 1)) / (n - 2)
    kurt = ((n + 1) * (m4 / m2**2) - 3 * (n - 1)) * (n - 1) / ((n - 2) * (n - 3))
    expected = {
        "annualized_return": mean * ppy,
        "cagr": cagr,
        "annualized_volatility": std * math.sqrt(ppy),
        "sharpe_ratio": mean / std * math.sqrt(ppy),
        "sortino_ratio": mean * ppy / (downside * math.sqrt(ppy)),
        "max_drawdown": mdd,
        "calmar_ratio": cagr / abs(mdd),
        "value_at_risk": var,
        "conditional_value_at_risk": cvar,
        "skew": skew,
        "kurtosis": kurt,
        "hit_rate": (r > 0).sum() / (r != 0).sum(),
        "best_period": r.max(),
        "worst_period": r.min(),
    }
    got = M.summary(daily)
    for name, value in expected.items():
        assert math.isclose(got[name], value, rel_tol=1e-9, abs_tol=1e-12), name


def test_risk_free_and_first_period_loss():
    r = pd.Series([-0.1, 0.05, 0.05], index=pd.bdate_range("2020-01-01", periods=3))
    assert math.isclose(M.max_drawdown(r), -0.1)
    rf = 0.001
    ex = r.to_numpy() - rf
    assert math.isclose(
        M.sharpe_ratio(r, risk_free=rf), ex.mean() / ex.std(ddof=1) * math.sqrt(252), rel_tol=1e-12
    )
    with pytest.raises(ValueError, match="finite"):
        M.sharpe_ratio(pd.Series([0.1, np.nan], index=r.index[:2]))


def _series(values):
    return pd.Series(values, index=pd.bdate_range("2020-01-01", periods=len(values)))


def test_cagr_of_a_wealth_path_through_zero_is_minus_one():
    # a long-short book that loses 150% in a day: wealth 1.5, 0.3, -0.15, ...
    wiped = _series([0.5, -0.8, -1.5, 0.1, 0.2])
    assert M.cagr(wiped) == -1.0
    assert M.cagr(_series([0.5, -1.0, 0.1])) == -1.0  # exactly zero wealth
    assert M.cagr(_series([-1.5, -1.5])) == -1.0  # negative twice: wealth 0.25, still ruined
    table = M.summary(wiped)
    assert table.map(lambda v: isinstance(v, float)).all()  # no complex number anywhere
    assert table["cagr"] == -1.0
    lowest = 1.5 * 0.2 * -0.5 * 1.1 * 1.2  # wealth -0.198 against the peak 1.5
    assert math.isclose(table["max_drawdown"], lowest / 1.5 - 1)  # below -1: beyond the capital
    assert math.isclose(table["calmar_ratio"], -1.0 / (1 - lowest / 1.5))


def test_ratios_at_zero_risk_follow_empyrical():
    no_downside = _series([0.01, 0.02, 0.0, 0.03])
    assert M.downside_risk(no_downside) == 0.0
    assert M.sortino_ratio(no_downside) == math.inf
    assert math.isnan(M.sortino_ratio(_series([0.0, 0.0, 0.0])))
    assert M.sortino_ratio(no_downside, target=0.05) < 0  # all below a higher target
    constant = _series([0.1] * 7)  # its float mean differs from 0.1 by an ulp
    assert M.annualized_volatility(constant) == 0.0
    assert M.sharpe_ratio(constant) == math.inf
    assert M.sharpe_ratio(constant, risk_free=0.2) == -math.inf
    assert math.isnan(M.sharpe_ratio(constant, risk_free=0.1))
    assert math.isnan(M.calmar_ratio(constant))  # no drawdown


@pytest.mark.parametrize(
    "values",
    [[0.01], [-0.02], [0.0], [0.01, 0.01], [0.0, 0.0, 0.0, 0.0], [-0.5, 0.2], [0.3, 0.3, 0.3]],
)
def test_degenerate_series_give_real_floats_without_warnings(values, recwarn):
    table = M.summary(_series(values), periods_per_year=252)
    assert all(type(v) is float for v in table.to_list())
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    if len(values) == 1:
        for name in ("sharpe_ratio", "sortino_ratio", "annualized_volatility", "skew"):
            assert math.isnan(table[name]), name
    assert -1.0 <= table["cagr"]
