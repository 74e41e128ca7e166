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
    per_asset = pd.Series({"a0": 10.0, "a1": 50.0, "a2": 0.0, "a3": 0.0})
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


def test_gross_exposure_is_limited_by_leverage(returns):
    double = pd.DataFrame([[0.5, 0.5, 0.5, 0.5]], index=returns.index[[4]], columns=returns.columns)
    with pytest.raises(ValueError, match=r"weights: .*leverage=1, got 2 on 2020-01-07"):
        backtest(double, returns)
    levered = backtest(double, returns, leverage=2.0)
    r = returns.iloc[5].to_numpy()
    assert levered.returns.iloc[1] == pytest.approx(0.5 * r.sum(), rel=1e-12)
    long_short = double * [1.5, -0.5, 0.5, -0.5] * 2  # 150% long, 50% short... gross 3
    with pytest.raises(ValueError, match="got 3 on"):
        backtest(long_short, returns, leverage=2.0)
    backtest(long_short / 1.5, returns, leverage=2.0)  # gross exactly 2
    float32 = (double / 2).astype(np.float32)  # a network's output, rounded to float32
    backtest(float32 * (1 + 4e-7), returns)
    with pytest.raises(ValueError, match="leverage: expected a finite positive"):
        backtest(double, returns, leverage=float("nan"))


def test_weights_in_percent_are_refused_with_a_hint(returns):
    percent = pd.DataFrame([[25.0] * 4], index=returns.index[[4]], columns=returns.columns)
    with pytest.raises(ValueError, match=r"summing to 100 on 2020-01-07 \(percentages\?"):
        backtest(percent, returns)


def test_prices_passed_as_returns_are_refused(returns):
    prices = 100 * (1 + returns).cumprod()
    weights = pd.DataFrame([[0.25] * 4], index=returns.index[[4]], columns=returns.columns)
    with pytest.raises(ValueError, match="returns: expected returns.*prices_to_returns"):
        backtest(weights, prices)
    crash = returns.copy()
    crash.iloc[20, 2] = -1.5
    with pytest.raises(ValueError, match="returns: .*above -1.*-1.5 for 'a2' on 2020-01-29"):
        backtest(weights, crash)


@pytest.mark.parametrize(
    ("costs", "message"),
    [
        (float("nan"), r"costs_bps: expected finite non-negative basis points, got nan"),
        (float("inf"), r"costs_bps: expected finite"),
        (-1.0, r"costs_bps: expected finite non-negative basis points, got -1"),
        (pd.Series({"a0": 10.0, "a1": 10.0}), r"costs_bps: .*missing \['a2', 'a3'\]"),
        (pd.Series({"a0": 1, "a1": 1, "a2": 1, "a3": 1, "zz": 1}), r"unknown \['zz'\]"),
        (pd.Series({"a0": 1, "a1": np.nan, "a2": 1, "a3": 1}), r"got nan for 'a1'"),
        ("10", r"costs_bps: expected basis points as a number"),
    ],
)
def test_costs_must_be_finite_non_negative_for_every_asset(returns, costs, message):
    weights = pd.DataFrame([[0.25] * 4], index=returns.index[[4]], columns=returns.columns)
    with pytest.raises((ValueError, TypeError), match=message):
        backtest(weights, returns, costs_bps=costs)


def test_a_decision_on_the_first_price_date_is_traded_at_the_start():
    from deepalloc.data import prices_to_returns

    prices = 100 * (1 + random_frame(30, 3, seed=5)).cumprod()
    returns = prices_to_returns(prices)
    w = np.array([0.2, 0.5, 0.3])
    weights = pd.DataFrame([w], index=prices.index[:1], columns=prices.columns)
    res = backtest(weights, returns, costs_bps=20.0)
    assert res.returns.index.equals(prices.index)  # starts on the decision date
    assert res.returns.iloc[0] == pytest.approx(-20e-4)  # bought from cash at that close
    held = prices.iloc[1:].to_numpy() / prices.iloc[0].to_numpy() @ w  # buy and hold
    np.testing.assert_allclose(res.wealth.iloc[1:], (1 - 20e-4) * held, rtol=1e-12)
    lagged = backtest(weights, returns, lag=1)
    assert lagged.returns.index[0] == returns.index[0]
    earlier = prices.index[:1] - pd.Timedelta(days=3)
    two = pd.DataFrame([w, w], index=earlier.append(prices.index[:1]), columns=prices.columns)
    with pytest.raises(ValueError, match="at most one decision before the first return date"):
        backtest(two, returns)


def test_calendar_rebalancing_does_not_trade_on_the_last_date():
    returns = random_frame(45, 3, seed=2)  # 2020-01-01 .. 2020-03-03, ends mid-month
    weights = pd.DataFrame([[0.3, 0.3, 0.4]], index=returns.index[:1], columns=returns.columns)
    res = backtest(weights, returns, costs_bps=10.0, rebalance="M")
    trades = res.turnover.index[res.turnover > 0]
    assert list(trades.strftime("%Y-%m-%d")) == ["2020-01-01", "2020-01-31", "2020-02-28"]
    assert res.costs.iloc[-1] == 0.0
    month_end = returns.loc[:"2020-02-28"]  # ends on a month's last business day: unknown
    res = backtest(weights, month_end, costs_bps=10.0, rebalance="M")
    assert res.turnover.iloc[-1] == 0.0
    with pytest.raises(ValueError, match="rebalance: expected None or a pandas period"):
        backtest(weights, returns, rebalance="monthly")


def test_summary_of_a_wiped_out_long_short_book_is_real():
    idx = pd.bdate_range("2021-01-04", periods=6)
    returns = pd.DataFrame({"x": [0.0, 0.1, 1.6, 0.05, 0.0, 0.1], "y": 0.01}, index=idx)
    weights = pd.DataFrame({"x": [-0.9], "y": [0.1]}, index=idx[:1])
    res = backtest(weights, returns)
    assert (res.wealth < 0).any()  # the short lost more than the capital
    table = res.summary(periods_per_year=252)["portfolio"]
    assert all(type(v) is float for v in table.to_list())
    assert table["cagr"] == -1.0


def test_scalar_arguments_and_time_zones(returns):
    weights = pd.DataFrame([[0.25] * 4], index=returns.index[[3]], columns=returns.columns)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="lag: expected a non-negative"):
            backtest(weights, returns, lag=bad)
    with pytest.raises(ValueError, match="initial_value: expected a finite positive"):
        backtest(weights, returns, initial_value=0.0)
    with pytest.raises(ValueError, match="weights: expected dates in the returns' time zone"):
        backtest(weights.tz_localize("UTC"), returns)


def test_holdings_before_the_last_trade():
    from deepalloc.analysis.backtest import holdings_before_trade

    rng = np.random.default_rng(3)
    index = pd.bdate_range("2021-01-01", periods=30)
    returns = pd.DataFrame(rng.normal(0, 0.02, (30, 3)), index=index, columns=list("abc"))
    weights = pd.DataFrame([[0.5, 0.3, 0.2]], index=index[:1], columns=list("abc"))
    result = backtest(weights, returns)  # bought once and held: pure drift
    grown = np.array([0.5, 0.3, 0.2]) * (1 + returns.iloc[1:]).prod().to_numpy()
    np.testing.assert_allclose(holdings_before_trade(result, returns), grown / grown.sum())
