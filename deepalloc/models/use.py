"""Using a saved model: the weights to hold after a date, from a returns frame."""

from __future__ import annotations

import pandas as pd

from deepalloc.data import make_windows
from deepalloc.models.files import SavedModel, inputs_frame
from deepalloc.training import predict


def holding_date(decision: pd.Timestamp) -> pd.Timestamp:
    """The date weights decided at ``decision``'s close are first held: the next business
    day (the trade happens at that close)."""
    return pd.Timestamp(decision) + pd.offsets.BDay(1)


def latest_weights(
    model: SavedModel, returns: pd.DataFrame, *, date: str | pd.Timestamp | None = None
) -> pd.Series:
    """The weights ``model`` decides at the close of ``date`` (default the last date).

    Parameters
    ----------
    model
        From :func:`deepalloc.models.load`; its inputs must be one channel of returns.
    returns
        Simple (or the model's kind of) asset returns by date; every asset of the model
        must be a column (others are ignored), with no missing values.
    date
        The decision date (a date of ``returns``); default the last one.

    Returns
    -------
    pandas.Series
        Weights by asset, named by the decision date; hold them from
        :func:`holding_date` of it.
    """
    if len(model.channels) != 1:
        raise ValueError(
            f"model: expected a network reading one channel of returns, got channels "
            f"{list(model.channels)}; build its windows yourself and use deepalloc.training.predict"
        )
    frame = inputs_frame(model, returns)
    if date is not None:
        when = pd.Timestamp(date)
        if when not in frame.index:
            raise ValueError(
                f"date: expected a date of the returns ({frame.index[0].date()} to "
                f"{frame.index[-1].date()}), got {when.date()}"
            )
        frame = frame.loc[:when]
    if len(frame) < model.lookback:
        raise ValueError(
            f"returns: expected at least the model's lookback of {model.lookback} dates up to "
            f"the decision date, got {len(frame)}"
        )
    windows = make_windows(
        frame.iloc[-model.lookback :],
        lookback=model.lookback,
        horizon=0,
        returns_kind=model.returns_kind,
    )
    if model.scaler is not None:
        windows = model.scaler.transform(windows)
    weights = predict(model.network, windows)
    return weights.iloc[-1].rename(weights.index[-1])
