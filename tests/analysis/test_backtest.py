import numpy as np
import pandas as pd
import pytest

from deepalloc.backtest import backtest
from tests.conftest import random_frame


@pytest.fixture
def returns():
    return random_frame(80, 4, seed=3)


def test_constant_mix_daily_equals_product(returns):
    w = np.array([0.1, 0.4, 0.3, 0.2])
    weights = pd.DataFrame([w] * 60, index=returns.index[10:70], columns=returns.columns)
    res = backtest(weights, returns)
    expected = returns.iloc[11:70].to_numpy() @ w
    np.testing.assert_allclose(res.returns.iloc[1:60].to_numpy(), expected, rtol=1e-12)
    assert res.returns.iloc[0] == 0.0  # bought at the close of the first decision date
    assert res.returns.index[0] == returns.index[10]


def test_buy_and_hold_equals_hand_computed_values(returns):
    w = np.array([0.5, 0.3, -0.1, 0.1])  # a short, and 20% cash
    weights = pd.DataFrame([w], index=returns.index[[5]], columns=returns.columns)
    res = backtest(weights, returns, initial_value=100.0)
    growth = np.cumprod(1 + returns.iloc[6:].to_numpy(), axis=0)
    values = 100.0 * (0.2 + growth @ w)
    np.testing.assert_allclose(res.wealth.iloc[1:].to_numpy(), values, rtol=1e-12)
    drifted = growth * w / (0.2 + growth @ w)[:, None]
    np.testing.assert_allclose(res.holdings.iloc[1:].to_numpy(), drifted, rtol=1e-12)


def test_costs_reduce_wealth_by_exactly_cost_times_turnover(returns):
    w1 = np.array([0.25, 0.25, 0.25, 0.25])
    w2 = np.array([0.7, 0.1, 0.1, 0.1])
    weights = pd.DataFrame([w1, w2], index=returns.index[[2, 30]], columns=returns.columns)
    free = backtest(weights, returns)
    paid = backtest(weights, returns, costs_bps=25.0)
    growth = np.prod(1 + returns.iloc[3:31].to_numpy(), axis=0)
    drifted = w1 * growth / (w1 * growth).sum()
    turnover = [1.0, np.abs(w2 - drifted).sum()]
    np.testing.assert_allclose(paid.turnover[paid.turnover > 0].to_numpy(), turnover, rtol=1e-12)
    ratio = paid.wealth.iloc[-1] / free.wealth.iloc[-1]
    np.testing.assert_allclose(
        ratio, (1 - 25e-4 * turnover[0]) * (1 - 25e-4 * turnover[1]), rtol=1e-12
    )
    assert (paid.costs > 0).sum() == 2  # charged once per rebalance, not every period
    per_asset = pd.Series({"a0": 10.0, "a1": 50.0})
    res = backtest(weights, returns, costs_bps=per_asset)
    np.testing.assert_allclose(res.costs.iloc[0], 10e-4 * 0.25 + 50e-4 * 0.25)


def test_calendar_rebalancing_uses_latest_decision(returns):
    rng = np.random.default_rng(0)
    weights = pd.DataFrame(
        rng.dirichlet(np.ones(4), 70), index=returns.index[:70], columns=returns.columns
    )
    res = backtest(weights, returns, rebalance="M")
    trade_dates = res.turnover[res.turnover > 0].index
    month_ends = returns.index.to_series().groupby(returns.index.to_period("M")).max()
    assert set(trade_dates[1:]) <= set(month_ends)
    for date in trade_dates[1:]:
        latest = weights.loc[:date].iloc[-1]
        np.testing.assert_allclose(res.holdings.loc[date].to_numpy(), latest.to_numpy())


def test_lag_delays_the_trade(returns):
    weights = pd.DataFrame([[0.25] * 4], index=returns.index[[10]], columns=returns.columns)
    res = backtest(weights, returns, lag=2)
    assert res.returns.index[0] == returns.index[12]


def test_bad_inputs(returns):
    ok = pd.DataFrame([[0.25] * 4], index=returns.index[[3]], columns=returns.columns)
    with pytest.raises(ValueError, match=r"unknown \['zz'\]"):
        backtest(ok.rename(columns={"a0": "zz"}), returns)
    nan = ok.copy()
    nan.iloc[0, 1] = np.nan
    with pytest.raises(ValueError, match="got NaN for 'a1'"):
        backtest(nan, returns)
    late = ok.set_axis([returns.index[-1] + pd.Timedelta(days=3)])
    with pytest.raises(ValueError, match="up to the last return date"):
        backtest(late, returns)
    missing = ok.set_axis([pd.Timestamp("2020-01-04")])  # a Saturday
    with pytest.raises(ValueError, match="missing from the returns"):
        backtest(missing, returns)
    with pytest.raises(ValueError, match="sorted"):
        backtest(ok, returns.iloc[::-1])


def test_summary_and_to_returns(returns):
    weights = pd.DataFrame([[0.25] * 4] * 50, index=returns.index[:50], columns=returns.columns)
    res = backtest(weights, returns, costs_bps=10)
    table = res.summary(name="ew")
    assert list(table.columns) == ["ew"]
    for key in ("sharpe_ratio", "max_drawdown", "average_turnover", "total_costs"):
        assert key in table.index
    pd.testing.assert_series_equal(res.to_returns(), res.returns)
    assert (res.drawdown <= 0).all()
