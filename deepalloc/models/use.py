"""Using a saved model: the weights to hold after a date, from a returns frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepalloc._channels import bind_channels
from deepalloc.data import Windows, make_windows
from deepalloc.models.files import SavedModel, inputs_frame
from deepalloc.training import predict
from deepalloc.training.predict import placement


def holding_date(decision: pd.Timestamp) -> pd.Timestamp:
    """The date weights decided at ``decision``'s close are first held: the next business
    day (the trade happens at that close)."""
    return pd.Timestamp(decision) + pd.offsets.BDay(1)


def latest_weights(
    model: SavedModel,
    returns: pd.DataFrame,
    *,
    date: str | pd.Timestamp | None = None,
    holdings: pd.Series | None = None,
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
    holdings
        For a holdings-aware network: the weights held at that close before trading, by
        asset (assets missing from it are not held); ``None``: decide as from cash.

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
    if getattr(model.network, "holdings_aware", False) and holdings is not None:
        held = holdings_vector(holdings, model.assets)
        weights = decide_with_holdings(model.network, windows, held)
    else:
        weights = predict(model.network, windows)
    return weights.iloc[-1].rename(weights.index[-1])


def holdings_vector(holdings: pd.Series, assets: list[str]) -> pd.Series:
    """Holdings by asset in ``assets`` order (absent assets are not held); checked."""
    unknown = sorted(set(map(str, holdings.index)) - set(assets))
    if unknown:
        raise ValueError(f"holdings: expected assets of the model, got unknown {unknown}")
    values = holdings.set_axis(list(map(str, holdings.index))).reindex(assets, fill_value=0.0)
    if not np.isfinite(values.to_numpy(dtype=float)).all():
        raise ValueError("holdings: expected finite weights, got NaN or infinite values")
    return values.astype(float)


def decide_with_holdings(network: nn.Module, windows: Windows, held: pd.Series) -> pd.DataFrame:
    """Weights of a holdings-aware network on every sample of ``windows``, each decided
    from the same holdings ``held``."""
    bind_channels(network.modules(), windows.channels)
    device, dtype = placement(network, None, None)
    x = windows.x.to(device, dtype)
    prev = torch.tensor(held.to_numpy(), dtype=x.dtype, device=x.device).expand(len(x), -1)
    network.eval()
    with torch.no_grad():
        values = network(x, previous_weights=prev).double().cpu().numpy()
    return pd.DataFrame(values, index=windows.timestamps, columns=windows.assets)
