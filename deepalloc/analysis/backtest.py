"""Backtest any sequence of portfolio weights with drift, rebalancing and costs.

Timing: a decision dated ``t`` (made at the close of ``t``) is traded at the close of
the ``lag``-th date after ``t`` and earns the returns of the following dates. Between
trades the positions drift with the market; weights that do not sum to one leave the
rest in cash at a zero return; shorts and leverage are allowed. A trade costs
``costs_bps`` (basis points of traded value, scalar or per asset) on the two-sided turnover against the
drifted holdings, charged once, on the trade date. The first trade starts from cash.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepalloc.analysis import metrics
from deepalloc.data.frames import validate_frame


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


def _check_inputs(weights: pd.DataFrame, returns: pd.DataFrame) -> None:
    validate_frame(returns, "returns")
    if not isinstance(weights, pd.DataFrame):
        raise TypeError(
            f"weights: expected a DataFrame (date x asset), got {type(weights).__name__}"
        )
    if weights.isna().any().any():
        row, col = np.argwhere(weights.isna().to_numpy())[0]
        raise ValueError(
            f"weights: expected no NaN, got NaN for {weights.columns[col]!r} on "
            f"{weights.index[row].date()}"
        )
    validate_frame(weights, "weights")
    missing_assets = [a for a in weights.columns if a not in returns.columns]
    if missing_assets:
        raise ValueError(
            f"weights: expected assets present in the returns, got unknown {missing_assets}"
        )
    late = weights.index[weights.index > returns.index[-1]]
    if len(late):
        raise ValueError(
            f"weights: expected decision dates up to the last return date "
            f"{returns.index[-1].date()}, got {late[0].date()}"
        )
    missing_dates = weights.index.difference(returns.index)
    if len(missing_dates):
        raise ValueError(
            f"weights: expected decision dates that are return dates, got {len(missing_dates)} "
            f"missing from the returns (first {missing_dates[0].date()})"
        )


def _trade_schedule(
    decisions: np.ndarray, n_dates: int, dates: pd.DatetimeIndex, rebalance: str | None
) -> tuple[np.ndarray, np.ndarray]:
    """(trade date positions, index of the decision traded on each)."""
    if rebalance is None:
        keep = decisions < n_dates
        return decisions[keep], np.flatnonzero(keep)
    periods = dates.to_period(rebalance)
    last_of_period = np.flatnonzero(np.append(periods[1:] != periods[:-1], True))
    points = np.union1d(last_of_period[last_of_period >= decisions[0]], decisions[:1])
    latest = np.searchsorted(decisions, points, side="right") - 1
    return points, latest


def backtest(
    weights: pd.DataFrame,
    returns: pd.DataFrame,
    *,
    costs_bps: float | pd.Series = 0.0,
    rebalance: str | None = None,
    lag: int = 0,
    initial_value: float = 1.0,
) -> BacktestResult:
    """Simulate holding ``weights`` through ``returns``.

    Parameters
    ----------
    weights
        Target weights by decision date (date x asset), from a network or anywhere.
        Assets of ``returns`` missing from it get weight 0.
    returns
        Simple asset returns by date (date x asset); convert prices explicitly with
        :func:`deepalloc.data.prices_to_returns`.
    costs_bps
        Proportional cost in basis points of traded value: a scalar or a Series by asset.
    rebalance
        ``None``: trade every decision. A pandas period frequency (``"W"``, ``"M"``,
        ``"Q"``, ...): trade at the last date of each period, to the latest decision
        available then (and once at the first decision).
    lag
        Dates between a decision and its trade.
    initial_value
        Starting value of the portfolio.

    Returns
    -------
    BacktestResult
    """
    _check_inputs(weights, returns)
    if lag < 0:
        raise ValueError(f"lag: expected a non-negative number of dates, got {lag}")
    assets = returns.columns
    target = weights.reindex(columns=assets, fill_value=0.0).to_numpy(dtype=np.float64)
    r = returns.to_numpy(dtype=np.float64)
    dates = pd.DatetimeIndex(returns.index)
    n_dates, n_assets = r.shape
    if isinstance(costs_bps, pd.Series):
        unknown = [a for a in costs_bps.index if a not in assets]
        if unknown:
            raise ValueError(
                f"costs_bps: expected assets present in the returns, got unknown {unknown}"
            )
        rate = costs_bps.reindex(assets, fill_value=0.0).to_numpy(dtype=np.float64) * 1e-4
    else:
        rate = np.full(n_assets, float(costs_bps) * 1e-4)
    if (rate < 0).any():
        raise ValueError("costs_bps: expected non-negative basis points, got a negative one")
    decisions = dates.get_indexer(weights.index) + lag
    if decisions[0] >= n_dates:
        raise ValueError(
            f"lag: expected the first trade before the last return date, got lag {lag}"
        )
    trade_at, traded = _trade_schedule(decisions, n_dates, dates, rebalance)
    start = int(trade_at[0])
    trade_of = np.full(n_dates, -1)
    trade_of[trade_at] = traded

    held = np.zeros(n_assets)
    out_r = np.zeros(n_dates - start)
    out_turn = np.zeros(n_dates - start)
    out_cost = np.zeros(n_dates - start)
    out_hold = np.zeros((n_dates - start, n_assets))
    for k, i in enumerate(range(start, n_dates)):
        growth = 1.0
        if k > 0:
            period = float(held @ r[i])
            held = held * (1.0 + r[i]) / (1.0 + period)
            growth = 1.0 + period
        j = trade_of[i]
        paid = 0.0
        if j >= 0:
            trade = np.abs(target[j] - held)
            out_turn[k] = trade.sum()
            paid = float(rate @ trade)
            held = target[j].copy()
        out_cost[k] = paid
        out_r[k] = growth * (1.0 - paid) - 1.0
        out_hold[k] = held
    index = dates[start:]
    return BacktestResult(
        returns=pd.Series(out_r, index=index, name="returns"),
        holdings=pd.DataFrame(out_hold, index=index, columns=assets),
        turnover=pd.Series(out_turn, index=index, name="turnover"),
        costs=pd.Series(out_cost, index=index, name="costs"),
        initial_value=initial_value,
    )


__all__ = [
    "BacktestResult",
    "backtest",
]
