"""The NumPy engine of :func:`deepalloc.backtest.backtest`: holdings that drift between trades.

After a trade at date ``t`` to target weights ``h`` (cash ``c = 1 - sum(h)``, earning
nothing), the value of asset ``i`` at a later date ``s`` up to the next trade, relative
to the portfolio value at ``t``, is ``h_i G_i(s)`` with ``G_i(s) = prod_{t < u <= s}
(1 + r_ui)``; the portfolio is worth ``V(s) = c + sum_i h_i G_i(s)``, earns
``V(s) / V(s - 1) - 1`` and holds ``h G(s) / V(s)``. Every trade restarts the products.

The products are built without a loop over dates: the rows of short segments (between
two trades at most ``sqrt(n_dates)`` dates apart) are advanced together, one pass per
position inside the segment, and each longer segment takes one ``np.cumprod``. Both
multiply in date order, exactly as a loop over dates would, so there are at most about
``2 sqrt(n_dates)`` NumPy passes whatever the trading schedule (daily trades: one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Simulation:
    """Arrays over the simulated dates (first trade to the last return date)."""

    returns: np.ndarray  # (date,)
    holdings: np.ndarray  # (date, asset), after any trade
    turnover: np.ndarray  # (date,)
    costs: np.ndarray  # (date,)


def _segment_products(growth: np.ndarray, trades: np.ndarray) -> None:
    """Turn ``growth`` (``1 + r``, shape (date, asset)) in place into ``G(s)``, the products
    of its rows since the last trade strictly before ``s``.

    ``trades`` are the sorted trade positions, starting with 0; row 0 is left as is.
    """
    n_dates = len(growth)
    bounds = np.append(trades, n_dates - 1)  # segment k: rows bounds[k] + 1 .. bounds[k + 1]
    lengths = np.diff(bounds)
    short_limit = max(1, int(np.sqrt(n_dates)))
    for k in np.flatnonzero(lengths > short_limit):
        rows = slice(bounds[k] + 1, bounds[k + 1] + 1)
        np.cumprod(growth[rows], axis=0, out=growth[rows])
    short = lengths <= short_limit
    starts, sizes = bounds[:-1][short], lengths[short]
    for step in range(2, int(sizes.max(initial=1)) + 1):
        rows = starts[sizes >= step] + step  # the step-th row of each short segment
        growth[rows] *= growth[rows - 1]


def simulate(
    returns: np.ndarray, targets: np.ndarray, trades: np.ndarray, rate: np.ndarray
) -> Simulation:
    """Hold ``targets`` bought at ``trades`` through ``returns``, paying ``rate`` per unit traded.

    Parameters
    ----------
    returns
        Simple returns, shape (date, asset); row 0 is the first trade date, whose own
        return is not earned (the trade happens at its close).
    targets
        Target weights of each trade, shape (trade, asset).
    trades
        Sorted, unique positions of the trade dates in ``returns``, starting with 0.
    rate
        Cost per unit of traded value, shape (asset,).

    Returns
    -------
    Simulation
    """
    n_dates = len(returns)
    values = 1.0 + returns
    _segment_products(values, trades)
    segment = np.maximum(np.searchsorted(trades, np.arange(n_dates), side="left") - 1, 0)
    values *= targets[segment]  # each position's value; the segment starts at value 1
    value = (1.0 - targets.sum(axis=1))[segment] + values.sum(axis=1)
    previous = np.empty(n_dates)
    previous[0] = 1.0
    previous[1:] = value[:-1]
    after_trade = trades[trades < n_dates - 1] + 1
    previous[after_trade] = 1.0
    growth = value / previous
    growth[0] = 1.0  # the first trade is made at the close of row 0: nothing is earned
    holdings = values
    holdings /= value[:, None]
    holdings[0] = 0.0  # the first trade starts from cash
    traded = np.abs(targets - holdings[trades])
    paid = np.zeros(n_dates)
    turnover = np.zeros(n_dates)
    paid[trades] = traded @ rate
    turnover[trades] = traded.sum(axis=1)
    holdings[trades] = targets
    return Simulation(
        returns=growth * (1.0 - paid) - 1.0, holdings=holdings, turnover=turnover, costs=paid
    )
