"""Checks of :func:`deepalloc.backtest.backtest`'s arguments, each error naming the argument."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from deepalloc.data.frames import validate_frame

GROSS_TOLERANCE = 1e-4
"""Relative slack on the gross-exposure limit, plus one float32 epsilon per asset.
Weights a network produced in float32 sum to its budget only up to the rounding of its
last layer: a float32 QP solve's budget residual is about the system's condition number
times float32's epsilon (1.2e-7), and weights from the S&P 500 demo's mean-variance
network reached 1 + 3.4e-6. Mistakes the limit is for (weights in percent, 100x; an
unintended leverage) stay far above it."""


def _is_finite_number(value: object) -> bool:
    """A real number (not a bool) that converts to a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def check_scalars(*, lag: object, leverage: object, initial_value: object) -> None:
    """``lag`` a non-negative int, ``leverage`` and ``initial_value`` finite and positive."""
    if isinstance(lag, bool) or not isinstance(lag, numbers.Integral) or lag < 0:
        raise ValueError(f"lag: expected a non-negative number of dates, got {lag!r}")
    for name, value in (("leverage", leverage), ("initial_value", initial_value)):
        if not _is_finite_number(value) or value <= 0:  # type: ignore[operator]
            raise ValueError(f"{name}: expected a finite positive number, got {value!r}")


def check_weights(weights: pd.DataFrame, returns: pd.DataFrame, leverage: float) -> None:
    """Weights: a valid frame of known assets, dated on return dates (or once before the
    first), within the gross-exposure limit."""
    if not isinstance(weights, pd.DataFrame):
        raise TypeError(
            f"weights: expected a DataFrame (date x asset), got {type(weights).__name__}"
        )
    if isinstance(weights.index, pd.DatetimeIndex) and weights.isna().to_numpy().any():
        row, col = np.argwhere(weights.isna().to_numpy())[0]
        raise ValueError(
            f"weights: expected no NaN, got NaN for {weights.columns[col]!r} on "
            f"{weights.index[row].date()}"
        )
    validate_frame(weights, "weights")
    if weights.index.tz != returns.index.tz:
        raise ValueError(
            f"weights: expected dates in the returns' time zone ({returns.index.tz}), got "
            f"{weights.index.tz}"
        )
    unknown = list(weights.columns[~weights.columns.isin(returns.columns)])
    if unknown:
        raise ValueError(f"weights: expected assets present in the returns, got unknown {unknown}")
    _check_dates(weights.index, pd.DatetimeIndex(returns.index))
    _check_gross(weights, leverage)


def _check_dates(decisions: pd.DatetimeIndex, dates: pd.DatetimeIndex) -> None:
    late = decisions[decisions > dates[-1]]
    if len(late):
        raise ValueError(
            f"weights: expected decision dates up to the last return date "
            f"{dates[-1].date()}, got {late[0].date()}"
        )
    early = decisions[decisions < dates[0]]
    if len(early) > 1:
        raise ValueError(
            f"weights: expected at most one decision before the first return date "
            f"{dates[0].date()} (it is traded at the start), got {len(early)} "
            f"({early[0].date()} ... {early[-1].date()})"
        )
    missing = decisions[decisions >= dates[0]].difference(dates)
    if len(missing):
        raise ValueError(
            f"weights: expected decision dates that are return dates, got {len(missing)} "
            f"missing from the returns (first {missing[0].date()})"
        )


def _check_gross(weights: pd.DataFrame, leverage: float) -> None:
    values = weights.to_numpy(dtype=np.float64)
    gross = np.abs(values).sum(axis=1)
    limit = leverage * (1.0 + GROSS_TOLERANCE + values.shape[1] * np.finfo(np.float32).eps)
    over = np.flatnonzero(gross > limit)
    if not len(over):
        return
    row = over[0]
    total = values[row].sum()
    if abs(total - 100.0) < 1.0:
        raise ValueError(
            f"weights: expected fractions of the portfolio value, got a row summing to "
            f"{total:.6g} on {weights.index[row].date()} (percentages? divide by 100)"
        )
    raise ValueError(
        f"weights: expected a gross exposure sum(|w|) of at most leverage={leverage:g}, got "
        f"{gross[row]:.6g} on {weights.index[row].date()} ({len(over)} dates over the limit; "
        "pass a larger leverage= to allow it)"
    )


def cost_rates(costs_bps: object, assets: pd.Index) -> np.ndarray:
    """Cost per unit of traded value by asset, from finite non-negative basis points."""
    if isinstance(costs_bps, pd.Series):
        unknown = [a for a in costs_bps.index if a not in assets]
        missing = [a for a in assets if a not in costs_bps.index]
        if unknown or missing:
            raise ValueError(
                f"costs_bps: expected one cost for every asset of the returns, got "
                f"missing {missing[:10]}{' ...' if len(missing) > 10 else ''}, unknown {unknown}"
            )
        if not pd.api.types.is_numeric_dtype(costs_bps.dtype) or costs_bps.index.has_duplicates:
            raise ValueError(
                f"costs_bps: expected numbers indexed by unique assets, got dtype "
                f"{costs_bps.dtype}{' with duplicated assets' * costs_bps.index.has_duplicates}"
            )
        bps = costs_bps.reindex(assets).to_numpy(dtype=np.float64)
    elif isinstance(costs_bps, numbers.Real) and not isinstance(costs_bps, bool):
        if not _is_finite_number(costs_bps) or costs_bps < 0:
            raise ValueError(
                f"costs_bps: expected finite non-negative basis points, got {costs_bps!r}"
            )
        bps = np.full(len(assets), float(costs_bps))
    else:
        raise TypeError(
            f"costs_bps: expected basis points as a number or a Series by asset, got "
            f"{type(costs_bps).__name__}"
        )
    bad = ~np.isfinite(bps) | (bps < 0)
    if bad.any():
        raise ValueError(
            f"costs_bps: expected finite non-negative basis points, got {bps[bad][0]} for "
            f"{assets[np.flatnonzero(bad)[0]]!r}"
        )
    return bps * 1e-4
