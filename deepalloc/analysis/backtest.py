"""Backtest any sequence of portfolio weights with drift, rebalancing and costs.

Contract
--------
- ``returns``: simple returns (date x asset), every one above -1, validated like every
  frame (sorted unique dates, finite numbers). A frame that looks like prices (a column
  of positive values with a median above 1) is refused with a pointer to
  :func:`deepalloc.data.prices_to_returns`.
- ``weights``: fractions of the portfolio value (date x asset), for assets of
  ``returns`` (missing ones get 0). Negative weights are shorts. The gross exposure
  ``sum(|w|)`` of every row is at most ``leverage`` (default 1: fully invested at most,
  no leverage); a row summing below one leaves the rest in cash at a zero return.
  Weights in percent are refused with a hint to divide by 100.
- ``costs_bps``: finite, non-negative basis points of traded value, one number or a
  Series with one cost for every asset of ``returns`` (:ref:`conventions-costs`).

Timing
------
A decision dated ``t`` (made at the close of ``t``) is traded at the close of the
``lag``-th date after ``t`` and earns the returns of the following dates. A decision
dated before the first return date (for example the first price date, which
:func:`~deepalloc.data.prices_to_returns` drops) is traded at the start, the close
before the first return date; with ``lag=0`` the result starts on that date. Between
trades the positions drift with the market. A trade costs ``costs_bps`` on the
two-sided turnover against the drifted holdings, charged once, on the trade date, as a
fraction of the portfolio value before the trade; the first trade starts from cash.
With ``rebalance``, trades happen at the first decision and at each period end the
returns show (a date followed by one in a later period): the last return date is never
a period end, because the data cannot show that its period is over (trading there would
only pay a cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepalloc.analysis import metrics
from deepalloc.analysis._backtest_inputs import check_scalars, check_weights, cost_rates
from deepalloc.analysis._drift import simulate
from deepalloc.data.frames import check_returns


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of :func:`backtest`; every Series is indexed by date.

    Attributes
    ----------
    returns
        Portfolio simple returns, net of costs, from the first trade date.
    holdings
        Weights held at each close after any trade (date x asset).
    turnover
        Two-sided turnover on each date (0 without a trade).
    costs
        Costs paid on each date, as a fraction of the portfolio value.
    initial_value
        Starting portfolio value.
    """

    returns: pd.Series
    holdings: pd.DataFrame
    turnover: pd.Series
    costs: pd.Series
    initial_value: float = 1.0

    @property
    def wealth(self) -> pd.Series:
        """Portfolio value after each date."""
        return self.initial_value * (1.0 + self.returns).cumprod()

    @property
    def drawdown(self) -> pd.Series:
        """``wealth / running peak - 1`` (the initial value counts as a peak)."""
        path = self.wealth
        peak = np.maximum(path.cummax(), self.initial_value)
        return path / peak - 1.0

    def to_returns(self) -> pd.Series:
        """The net returns Series, for tools such as quantstats."""
        return self.returns.copy()

    def summary(
        self, *, periods_per_year: float | None = None, name: str = "portfolio"
    ) -> pd.DataFrame:
        """Metrics of :mod:`deepalloc.metrics` plus trading statistics, one column ``name``."""
        values = metrics.summary(self.returns, periods_per_year=periods_per_year)
        trades = self.turnover[self.turnover > 0]
        values["average_turnover"] = float(trades.mean()) if len(trades) else 0.0
        values["total_costs"] = float(self.costs.sum())
        values["n_trades"] = float(len(trades))
        return values.to_frame(name)


def _calendar(
    weights: pd.DataFrame, returns: pd.DataFrame
) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Trading dates, their returns and the position of each decision among them.

    A decision dated before the first return date adds its own date in front, with a
    zero return that is never earned (the first trade is made at its close).
    """
    dates = pd.DatetimeIndex(returns.index)
    r = returns.to_numpy(dtype=np.float64)
    if weights.index[0] < dates[0]:
        dates = dates.insert(0, weights.index[0])
        r = np.vstack([np.zeros((1, r.shape[1])), r])
    return dates, r, dates.get_indexer(weights.index)


def _period_ends(dates: pd.DatetimeIndex, rebalance: str) -> np.ndarray:
    """Positions of dates followed by a date of a later period (never the last date)."""
    try:
        periods = dates.to_period(rebalance)
    except (ValueError, TypeError) as err:
        raise ValueError(
            f"rebalance: expected None or a pandas period frequency ('W', 'M', 'Q', 'Y'), "
            f"got {rebalance!r}"
        ) from err
    return np.flatnonzero(periods[1:] != periods[:-1])


def _trade_schedule(
    decisions: np.ndarray, dates: pd.DatetimeIndex, rebalance: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(trade date positions, index of the decision traded on each)."""
    if rebalance is None:
        keep = decisions < len(dates)  # a lagged trade after the last date never happens
        return decisions[keep], np.flatnonzero(keep)
    ends = _period_ends(dates, rebalance)
    points = np.union1d(ends[ends > decisions[0]], decisions[:1])
    latest = np.searchsorted(decisions, points, side="right") - 1
    return points, latest


def holdings_before_trade(result: BacktestResult, returns: pd.DataFrame) -> pd.Series:
    """Weights held at the backtest's last close before any trade there: the previous
    close's holdings drifted through the last date's returns, what a decision made at
    that close trades against (by asset)."""
    held = result.holdings.iloc[-2] if len(result.holdings) > 1 else result.holdings.iloc[-1] * 0
    growth = 1.0 + returns.loc[result.holdings.index[-1], held.index]
    value = (1.0 - float(held.sum())) + float(held @ growth)
    return held * growth / value


def trade_schedule(
    decision_dates: pd.DatetimeIndex,
    returns: pd.DataFrame,
    *,
    rebalance: str | None = None,
    lag: int = 0,
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """When :func:`backtest` trades, and which decision each trade carries out.

    Parameters
    ----------
    decision_dates
        Sorted decision dates (return dates, or one date before the first of them).
    returns, rebalance, lag
        As for :func:`backtest`.

    Returns
    -------
    trade_dates
        The dates of the trades, sorted.
    decisions
        For each trade, the position in ``decision_dates`` of the decision it trades to.
    """
    check_scalars(lag=lag, leverage=1.0, initial_value=1.0)
    frame = pd.DataFrame(index=pd.DatetimeIndex(decision_dates))
    dates, _, positions = _calendar(frame, returns)
    if (positions < 0).any():
        raise ValueError("decision_dates: expected return dates (or one date before them)")
    trade_at, traded = _trade_schedule(positions + lag, dates, rebalance)
    return dates[trade_at], traded


def backtest(
    weights: pd.DataFrame,
    returns: pd.DataFrame,
    *,
    costs_bps: float | pd.Series = 0.0,
    rebalance: str | None = None,
    lag: int = 0,
    leverage: float = 1.0,
    initial_value: float = 1.0,
) -> BacktestResult:
    """Simulate holding ``weights`` through ``returns`` (contract and timing: module docs).

    Parameters
    ----------
    weights
        Target weights, fractions of the portfolio value, by decision date (date x
        asset), from a network or anywhere. Dated on return dates, or once before the
        first return date. Assets of ``returns`` missing from it get weight 0.
    returns
        Simple asset returns by date (date x asset), each above -1; convert prices
        explicitly with :func:`deepalloc.data.prices_to_returns`.
    costs_bps
        Proportional cost in basis points of traded value (10 means 0.1%): a finite
        non-negative number, or a Series with one for every asset of ``returns``.
    rebalance
        ``None``: trade every decision. A pandas period frequency (``"W"``, ``"M"``,
        ``"Q"``, ``"Y"``): trade at the first decision, then at the last date of each
        period to the latest decision available then (also when it is unchanged: the
        drift is corrected). The last return date does not count as a period end.
    lag
        Dates between a decision and its trade; decisions whose trade would fall after
        the last return date are not traded.
    leverage
        Largest gross exposure ``sum(|w|)`` allowed on any date (1: no leverage; 2 allows
        for example 150% long and 50% short).
    initial_value
        Starting value of the portfolio.

    Returns
    -------
    BacktestResult
        Indexed by date from the first trade.

    Raises
    ------
    ValueError, TypeError
        On inputs outside the contract, naming the argument (and the date and asset).
    """
    check_scalars(lag=lag, leverage=leverage, initial_value=initial_value)
    check_returns(returns, "returns")
    check_weights(weights, returns, float(leverage))
    assets = returns.columns
    rate = cost_rates(costs_bps, assets)
    target = weights.reindex(columns=assets, fill_value=0.0).to_numpy(dtype=np.float64)
    dates, r, positions = _calendar(weights, returns)
    decisions = positions + lag
    if decisions[0] >= len(dates):
        raise ValueError(
            f"lag: expected the first trade by the last return date, got lag {lag} after the "
            f"first decision on {weights.index[0].date()}"
        )
    trade_at, traded = _trade_schedule(decisions, dates, rebalance)
    start = int(trade_at[0])
    sim = simulate(r[start:], target[traded], trade_at - start, rate)
    index = dates[start:]
    return BacktestResult(
        returns=pd.Series(sim.returns, index=index, name="returns"),
        holdings=pd.DataFrame(sim.holdings, index=index, columns=assets, copy=False),
        turnover=pd.Series(sim.turnover, index=index, name="turnover"),
        costs=pd.Series(sim.costs, index=index, name="costs"),
        initial_value=float(initial_value),
    )


__all__ = [
    "BacktestResult",
    "backtest",
    "holdings_before_trade",
    "trade_schedule",
]
