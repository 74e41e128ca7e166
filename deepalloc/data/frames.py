"""Validation and conversion of date x asset frames.

Every frame that enters deepalloc passes :func:`validate_frame`: a sorted, unique
``DatetimeIndex``, unique column labels, numeric finite values. Nothing is ever
filled or dropped silently; :func:`clean_prices` and :func:`align_frames` are the
explicit, opt-in helpers, and neither ever uses a value from the future.
:func:`check_returns` adds the checks of a frame that must hold returns (the backtest's
returns, the windows' targets).

This module imports only NumPy and pandas, so the pandas layers (backtest, metrics)
that use it stay free of torch at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

PRICE_LIKE_MEDIAN = 1.0
"""A column whose values are all positive with a median above this (a return of 100%
per period) holds prices or levels, not returns."""


def _check_option(name: str, value: object, options: Iterable[object]) -> None:
    # deepalloc._checks.check_choice, repeated because that module imports torch
    allowed = list(options)
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")


def validate_frame(frame: pd.DataFrame, name: str = "frame", *, positive: bool = False) -> None:
    """Check a date x asset frame, raising a clear error naming the offending date or column.

    Parameters
    ----------
    frame
        DataFrame indexed by date, one column per asset.
    name
        What the frame is called in error messages (``"prices"``, ``"returns"``, ...).
    positive
        Also require every value to be strictly positive (prices).

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame or its index is not a ``DatetimeIndex``.
    ValueError
        On an empty frame, unsorted or duplicated dates, duplicated columns, non-numeric
        columns, NaN or infinite values, or (with ``positive``) non-positive values.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name}: expected a pandas DataFrame, got {type(frame).__name__}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise TypeError(
            f"{name}: expected a DatetimeIndex, got {type(frame.index).__name__} "
            "(parse the dates, e.g. pd.read_csv(..., index_col=0, parse_dates=True))"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one date and one asset, got {frame.shape}")
    dup_dates = frame.index[frame.index.duplicated()]
    if len(dup_dates):
        raise ValueError(
            f"{name}: expected unique dates, got {len(dup_dates)} duplicated "
            f"(first {dup_dates[0].date()})"
        )
    if not frame.index.is_monotonic_increasing:
        order = np.diff(frame.index.asi8)
        pos = int(np.argmax(order < 0)) + 1
        raise ValueError(
            f"{name}: expected dates sorted in increasing order, got {frame.index[pos].date()} "
            f"after {frame.index[pos - 1].date()} (sort with frame.sort_index())"
        )
    dup_cols = frame.columns[frame.columns.duplicated()]
    if len(dup_cols):
        raise ValueError(f"{name}: expected unique columns, got duplicated {list(dup_cols)}")
    dtypes = frame.dtypes
    if not all(pd.api.types.is_numeric_dtype(t) for t in set(dtypes)):  # one per dtype
        non_numeric = [c for c, t in dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
        raise TypeError(f"{name}: expected numeric columns, got non-numeric {non_numeric}")
    values = frame.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(values[row, col]) else "infinite"
        raise ValueError(
            f"{name}: expected finite values, got {int(bad.sum())} missing or infinite; first "
            f"{kind} in column {frame.columns[col]!r} on {frame.index[row].date()} "
            "(use deepalloc.data.clean_prices to forward-fill or drop explicitly)"
        )
    if positive and (values <= 0).any():
        row, col = np.argwhere(values <= 0)[0]
        raise ValueError(
            f"{name}: expected strictly positive prices, got {values[row, col]} in column "
            f"{frame.columns[col]!r} on {frame.index[row].date()}"
        )


def check_returns(
    frame: pd.DataFrame, name: str = "returns", *, kind: Literal["simple", "log"] = "simple"
) -> None:
    """Check that a date x asset frame plausibly holds returns, not prices.

    The frame passes :func:`validate_frame`; then no column may look like prices (every
    value positive and the median above ``PRICE_LIKE_MEDIAN``, a return of 100% per
    period), and simple returns must be above -1 (a return of -100% or worse leaves an
    asset worth nothing or less).

    Parameters
    ----------
    frame
        Date x asset frame of returns.
    name
        What the frame is called in error messages.
    kind
        ``"simple"`` (checked above -1) or ``"log"`` (any finite value).

    Raises
    ------
    ValueError
        Naming the columns that look like prices (with the suggestion to use
        :func:`prices_to_returns`), or the first asset and date of a return of -100%
        or below.
    """
    _check_option("kind", kind, ("simple", "log"))
    validate_frame(frame, name)
    values = frame.to_numpy(dtype=np.float64)
    positive = np.flatnonzero((values > 0).all(axis=0))  # rare for returns: no median then
    medians = np.zeros(values.shape[1])
    medians[positive] = np.median(values[:, positive], axis=0)
    price_like = medians > PRICE_LIKE_MEDIAN
    if price_like.any():
        cols = list(frame.columns[price_like])
        more = " ..." if len(cols) > 5 else ""
        raise ValueError(
            f"{name}: expected returns, got {len(cols)} column(s) that look like prices "
            f"{cols[:5]}{more} (all values positive, median {medians[price_like][0]:.4g} for "
            f"{cols[0]!r}); convert prices with deepalloc.data.prices_to_returns"
        )
    if kind == "simple" and (values <= -1.0).any():
        row, col = np.argwhere(values <= -1.0)[0]
        raise ValueError(
            f"{name}: expected simple returns above -1 (-100%), got {values[row, col]:.6g} "
            f"for {frame.columns[col]!r} on {frame.index[row].date()}"
        )


def prices_to_returns(
    prices: pd.DataFrame, kind: Literal["simple", "log"] = "simple"
) -> pd.DataFrame:
    """Convert a price frame to returns.

    Parameters
    ----------
    prices
        Date x asset frame of strictly positive prices; validated with
        :func:`validate_frame`.
    kind
        ``"simple"`` for ``p_t / p_{t-1} - 1`` or ``"log"`` for ``ln(p_t / p_{t-1})``.

    Returns
    -------
    pandas.DataFrame
        Returns of shape (n_dates - 1, n_assets); the first date, which has no
        previous price, is the only row removed.
    """
    _check_option("kind", kind, ("simple", "log"))
    validate_frame(prices, "prices", positive=True)
    if len(prices) < 2:
        raise ValueError(
            f"prices: expected at least two dates to compute a return, got {len(prices)}"
        )
    values = prices.to_numpy(dtype=np.float64)
    ratio = values[1:] / values[:-1]
    out = np.log(ratio) if kind == "log" else ratio - 1.0
    return pd.DataFrame(out, index=prices.index[1:], columns=prices.columns)


def clean_prices(
    prices: pd.DataFrame,
    *,
    ffill_limit: int | None = None,
    leading: str = "raise",
) -> pd.DataFrame:
    """Explicitly fill gaps in a price frame, using only past values.

    Interior gaps are forward-filled (the last known price carries forward, as a held
    position that did not trade). Leading gaps (an asset that starts later) are never
    back-filled, since that would copy a future price into the past: they either raise
    or are removed by dropping the dates before every asset has a price.

    Parameters
    ----------
    prices
        Date x asset price frame, sorted unique ``DatetimeIndex``.
    ffill_limit
        Longest run of consecutive missing values to forward-fill; a longer run raises.
        ``None`` fills any run.
    leading
        ``"raise"`` (default) or ``"drop"`` the dates before the last asset's first price.

    Returns
    -------
    pandas.DataFrame
        A new frame that passes :func:`validate_frame` with ``positive=True``.
    """
    _check_option("leading", leading, ("raise", "drop"))
    if not isinstance(prices, pd.DataFrame):
        raise TypeError(f"prices: expected a pandas DataFrame, got {type(prices).__name__}")
    prices = prices.astype(np.float64).replace([np.inf, -np.inf], np.nan)
    first_valid = prices.apply(lambda col: col.first_valid_index())
    if first_valid.isna().any():
        empty = list(first_valid.index[first_valid.isna()])
        raise ValueError(f"prices: expected at least one price per column, got none for {empty}")
    start = first_valid.max()
    if start != prices.index[0]:
        if leading == "raise":
            late = first_valid[first_valid == start].index[0]
            raise ValueError(
                f"prices: expected every column to start on {prices.index[0].date()}, got "
                f"{late!r} starting on {start.date()} (pass leading='drop' to drop earlier dates;"
                " back-filling would leak future prices)"
            )
        prices = prices.loc[start:]
    if ffill_limit is not None:
        missing = prices.isna()
        runs = missing.cumsum() - missing.cumsum().where(~missing).ffill().fillna(0)
        if (runs > ffill_limit).any().any():
            col = runs.columns[(runs > ffill_limit).any()][0]
            raise ValueError(
                f"prices: expected gaps of at most {ffill_limit} dates, got a longer gap in "
                f"column {col!r} ending on {runs[col].idxmax().date()}"
            )
    filled = prices.ffill()
    validate_frame(filled, "prices", positive=True)
    return filled


def align_frames(
    frames: Mapping[str, pd.DataFrame], *, how: str = "raise"
) -> dict[str, pd.DataFrame]:
    """Check or align several channel frames to the same dates and assets.

    Parameters
    ----------
    frames
        Channel name -> date x asset frame.
    how
        ``"raise"`` (default): dates and assets must already agree exactly.
        ``"inner"``: keep only the dates and assets every frame has (an explicit
        drop; nothing is filled).

    Returns
    -------
    dict of str to pandas.DataFrame
        The frames, on common dates and assets, columns in the first frame's order.
    """
    _check_option("how", how, ("raise", "inner"))
    if not frames:
        raise ValueError("frames: expected at least one channel frame, got none")
    names = list(frames)
    for name in names:
        validate_frame(frames[name], f"channel {name!r}")
    ref_name = names[0]
    ref = frames[ref_name]
    if how == "raise":
        for name in names[1:]:
            other = frames[name]
            if not other.index.equals(ref.index):
                diff = other.index.symmetric_difference(ref.index)
                raise ValueError(
                    f"channel {name!r}: expected the same dates as channel {ref_name!r}, got "
                    f"{len(diff)} differing (first {diff[0].date()}); align explicitly with "
                    "align_frames(..., how='inner')"
                )
            if list(other.columns) != list(ref.columns):
                extra = [c for c in other.columns if c not in ref.columns]
                missing = [c for c in ref.columns if c not in other.columns]
                raise ValueError(
                    f"channel {name!r}: expected the assets of channel {ref_name!r} in the same "
                    f"order, got extra {extra}, missing {missing}"
                )
        return dict(frames)
    dates = ref.index
    assets = list(ref.columns)
    for name in names[1:]:
        dates = dates.intersection(frames[name].index)
        assets = [a for a in assets if a in frames[name].columns]
    if len(dates) == 0 or not assets:
        raise ValueError("frames: expected overlapping dates and assets, got an empty overlap")
    return {name: frames[name].loc[dates, assets] for name in names}
