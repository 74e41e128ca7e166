"""The vectorised backtest engine against a loop over dates, and backtest invariants.

The reference below is the backtest as a plain loop (the engine before vectorisation),
written independently of the package: its own trade schedule, one date at a time,
holdings renormalised after every date.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.backtest import backtest

# Both sides compute the same products in a different order (the reference renormalises
# the holdings every date, the engine multiplies growth factors): their difference is a
# few ulps per date, about 1e-14 over a few hundred dates of O(1) numbers; 1e-12 leaves
# a margin of 100x without hiding a wrong formula (a wrong one is off by about 1e-3).
ATOL = 1e-12


def reference_backtest(weights, returns, costs_bps, rebalance, lag):
    """Loop over dates; a decision before the first return date trades at the start."""
    dates = list(returns.index)
    r = [returns.loc[d].to_numpy() for d in dates]
    early = weights.index[weights.index < dates[0]]
    if len(early):
        dates.insert(0, early[0])
        r.insert(0, np.zeros(returns.shape[1]))
    pos = {d: i for i, d in enumerate(dates)}
    target = weights.reindex(columns=returns.columns, fill_value=0.0)
    # decision -> trade date position
    trades = {}
    for d in target.index:
        if pos[d] + lag < len(dates):
            trades[pos[d] + lag] = target.loc[d].to_numpy()
    first = min(trades)
    if rebalance is not None:
        periods = pd.DatetimeIndex(dates).to_period(rebalance)
        schedule = {first: trades[first]}
        latest = None
        for i in range(first, len(dates)):
            latest = trades.get(i, latest)
            if i + 1 < len(dates) and periods[i + 1] != periods[i]:
                schedule[i] = latest
        trades = schedule
    rate = np.full(returns.shape[1], costs_bps * 1e-4)
    held = np.zeros(returns.shape[1])
    out = []
    for i in range(first, len(dates)):
        growth = 1.0
        if i > first:
            period = float(held @ r[i])
            held = held * (1.0 + r[i]) / (1.0 + period)
            growth = 1.0 + period
        turnover = paid = 0.0
        if i in trades:
            trade = np.abs(trades[i] - held)
            turnover, paid = trade.sum(), float(rate @ trade)
            held = trades[i].copy()
        out.append((dates[i], growth * (1.0 - paid) - 1.0, turnover, paid, held))
    index = pd.DatetimeIndex([o[0] for o in out])
    return (
        pd.Series([o[1] for o in out], index=index),
        pd.Series([o[2] for o in out], index=index),
        pd.Series([o[3] for o in out], index=index),
        pd.DataFrame([o[4] for o in out], index=index, columns=returns.columns),
    )


def market(seed, n_dates, n_assets, *, shorts):
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2019-12-02", periods=n_dates + 1)
    prices_date, index = index[0], index[1:]
    returns = pd.DataFrame(
        rng.normal(3e-4, 0.02, (n_dates, n_assets)),
        index=index,
        columns=[f"a{i}" for i in range(n_assets)],
    )
    w = rng.dirichlet(np.ones(n_assets), n_dates) * rng.uniform(0.5, 1.0, (n_dates, 1))
    if shorts:  # long-short with gross exposure 1
        w = w * rng.choice([-1.0, 1.0], w.shape)
    weights = pd.DataFrame(w, index=index, columns=returns.columns)
    return prices_date, weights, returns


@pytest.mark.parametrize("rebalance", [None, "W", "M", "Q"])
@pytest.mark.parametrize("lag", [0, 2])
@pytest.mark.parametrize("every", [1, 3, 17, 400])
def test_engine_equals_the_loop_over_dates(rebalance, lag, every):
    prices_date, weights, returns = market(every + lag, 300, 6, shorts=every % 2 == 1)
    weights = weights.iloc[::every]
    if every == 3:  # a decision dated on the first price date, before the returns
        weights = pd.concat([weights.iloc[:1].set_axis([prices_date]), weights])
    res = backtest(weights, returns, costs_bps=25.0, rebalance=rebalance, lag=lag)
    ref_r, ref_turn, ref_cost, ref_hold = reference_backtest(weights, returns, 25.0, rebalance, lag)
    assert res.returns.index.equals(ref_r.index)
    np.testing.assert_allclose(res.returns, ref_r, rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.turnover, ref_turn, rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.costs, ref_cost, rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.holdings, ref_hold, rtol=0, atol=ATOL)
    assert (res.turnover > 0).sum() >= 1


# --- invariants, on generated markets --------------------------------------------------

SETTINGS = settings(max_examples=30, deadline=None)


@st.composite
def markets(draw, *, shorts=True):
    n_dates = draw(st.integers(2, 40))
    n_assets = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    returns = pd.DataFrame(
        rng.uniform(-0.3, 0.3, (n_dates, n_assets)),
        index=pd.bdate_range("2021-03-01", periods=n_dates),
        columns=[f"s{i}" for i in range(n_assets)],
    )
    raw = rng.uniform(-1.0 if shorts else 0.0, 1.0, n_assets)
    w = raw / max(1.0, np.abs(raw).sum()) * draw(st.floats(0.1, 1.0))
    return returns, pd.Series(w, index=returns.columns)


@SETTINGS
@given(markets())
def test_daily_rebalancing_earns_the_weighted_asset_return(generated):
    returns, w = generated
    weights = pd.DataFrame([w] * len(returns), index=returns.index)
    res = backtest(weights, returns)
    expected = returns.iloc[1:].to_numpy() @ w.to_numpy()
    np.testing.assert_allclose(res.returns.iloc[1:], expected, rtol=0, atol=1e-14)
    assert res.returns.iloc[0] == 0.0


@SETTINGS
@given(markets())
def test_turnover_of_a_constant_mix_is_the_drift_correction(generated):
    returns, w = generated
    weights = pd.DataFrame([w] * len(returns), index=returns.index)
    res = backtest(weights, returns, costs_bps=5.0)
    r, h = returns.iloc[1:].to_numpy(), w.to_numpy()
    drifted = h * (1 + r) / (1 + r @ h)[:, None]  # the cash share earns nothing
    np.testing.assert_allclose(
        res.turnover.iloc[1:], np.abs(h - drifted).sum(axis=1), rtol=0, atol=1e-13
    )
    assert res.turnover.iloc[0] == pytest.approx(np.abs(h).sum())


@SETTINGS
@given(markets(), st.sampled_from([None, "W", "M"]), st.integers(0, 2), st.floats(0, 100))
def test_wealth_identity(generated, rebalance, lag, costs):
    returns, w = generated
    n = len(returns)
    sign = np.where(np.arange(n) % 2 == 0, 1.0, 0.5)[:, None]
    weights = pd.DataFrame(sign * w.to_numpy(), index=returns.index, columns=returns.columns)
    if lag >= n:
        return
    res = backtest(
        weights, returns, costs_bps=costs, rebalance=rebalance, lag=lag, initial_value=7.0
    )
    wealth = res.wealth.to_numpy()
    np.testing.assert_allclose(wealth, 7.0 * np.cumprod(1 + res.returns), rtol=1e-13)
    # each date: the holdings after the last trade earn this date's returns, then costs
    held_before = res.holdings.shift(1).fillna(0.0).to_numpy()
    r = returns.loc[res.returns.index].to_numpy()
    growth = 1 + (held_before * r).sum(axis=1)
    growth[0] = 1.0
    np.testing.assert_allclose(
        wealth[1:] / wealth[:-1], growth[1:] * (1 - res.costs.to_numpy()[1:]), rtol=1e-12
    )
    np.testing.assert_allclose(res.costs, res.turnover * costs * 1e-4, rtol=0, atol=1e-15)


@SETTINGS
@given(markets(shorts=False), st.floats(0, 200), st.floats(0, 200), st.sampled_from([None, "W"]))
def test_costs_are_monotone_in_basis_points(generated, low, high, rebalance):
    returns, w = generated
    low, high = sorted((low, high))
    sign = np.where(np.arange(len(returns)) % 3 == 0, 1.0, 0.7)[:, None]
    weights = pd.DataFrame(sign * w.to_numpy(), index=returns.index, columns=returns.columns)
    cheap = backtest(weights, returns, costs_bps=low, rebalance=rebalance)
    dear = backtest(weights, returns, costs_bps=high, rebalance=rebalance)
    np.testing.assert_array_equal(cheap.turnover, dear.turnover)  # trades are in weights
    assert (dear.costs >= cheap.costs).all()
    assert (dear.wealth <= cheap.wealth * (1 + 1e-14)).all()


@SETTINGS
@given(markets(), st.sampled_from(["W", "M"]), st.integers(1, 5))
def test_calendar_trades_only_at_the_start_and_at_observed_period_ends(generated, freq, every):
    returns, w = generated
    weights = pd.DataFrame([w] * len(returns), index=returns.index).iloc[::every]
    res = backtest(weights, returns, costs_bps=10.0, rebalance=freq)
    periods = returns.index.to_period(freq)
    observed_ends = returns.index[:-1][periods[1:] != periods[:-1]]  # never the last date
    trade_dates = res.turnover.index[res.costs > 0]
    assert set(trade_dates[1:]) <= set(observed_ends)
    assert trade_dates[0] == weights.index[0]
    assert res.turnover.iloc[-1] == 0.0 or len(res.turnover) == 1
