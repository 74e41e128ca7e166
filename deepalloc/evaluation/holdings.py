"""Decisions of holdings-aware networks along one continuous portfolio.

A network built with ``holdings_aware=True`` decides from the portfolio it holds. Over a
suite's test period the holdings are those of the backtest itself: they start in cash,
change only at the backtest's trades (the same schedule: rebalancing calendar and lag,
:func:`deepalloc.backtest.trade_schedule`) and drift with the asset returns in between,
across fold boundaries too, so the evaluated path is one continuous portfolio. The
decisions between two trades all see holdings drifted from the earlier trade, so they
are computed in one batch per interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepalloc._channels import bind_channels
from deepalloc.analysis.backtest import trade_schedule
from deepalloc.data import Windows
from deepalloc.training.predict import placement


def _drifted(held: np.ndarray, growth: np.ndarray) -> np.ndarray:
    """Holdings (asset,) after the assets grew by ``growth`` (n, asset): (n, asset)."""
    value = (1.0 - held.sum()) + growth @ held
    return held * growth / value[:, None]


def holdings_aware_weights(
    pieces: Sequence[tuple[np.ndarray, nn.Module]],
    windows: Windows,
    returns: pd.DataFrame,
    *,
    rebalance: str | None = None,
    lag: int = 0,
) -> pd.DataFrame:
    """Weights of holdings-aware networks decided along the backtest's own holdings.

    Parameters
    ----------
    pieces
        ``(sample indices, network)`` in time order: each network decides on its samples
        (a fold's test block, decided by that fold's network).
    windows
        The samples (inputs).
    returns
        Simple asset returns by date (the backtest's), for the drift between trades.
    rebalance, lag
        The backtest's trading calendar.

    Returns
    -------
    pandas.DataFrame
        Weights by decision date (date x asset).
    """
    samples = np.concatenate([np.asarray(s) for s, _ in pieces])
    owner = np.concatenate([np.full(len(s), k) for k, (s, _) in enumerate(pieces)])
    dates = windows.timestamps[samples]
    r = returns.reindex(columns=windows.assets).to_numpy(dtype=np.float64)
    position = returns.index.get_indexer(dates)
    if (position < 0).any() or np.any(np.diff(position) <= 0):
        raise ValueError("pieces: expected decisions on increasing return dates")
    trade_dates, traded = trade_schedule(dates, returns, rebalance=rebalance, lag=lag)
    trade_at = returns.index.get_indexer(trade_dates)
    networks = [net for _, net in pieces]
    for net in networks:
        bind_channels(net.modules(), windows.channels)
        net.eval()
    weights = np.zeros((len(samples), len(windows.assets)))
    held, since = np.zeros(len(windows.assets)), int(position[0])
    start = 0
    for j in range(len(trade_at) + 1):
        end = (
            len(samples)
            if j == len(trade_at)
            else int(np.searchsorted(position, trade_at[j], "right"))
        )
        block = np.arange(start, end)
        if len(block):
            growth = np.cumprod(1.0 + r[since + 1 : int(position[block[-1]]) + 1], axis=0)
            steps = position[block] - since
            drift = np.vstack([np.ones((1, r.shape[1])), growth])[steps]
            weights[block] = _decide(
                networks, owner[block], windows, samples[block], _drifted(held, drift)
            )
        if j < len(trade_at):
            held, since = weights[traded[j]].copy(), int(trade_at[j])
        start = end
    return pd.DataFrame(weights, index=dates, columns=windows.assets)


def _decide(
    networks: Sequence[nn.Module],
    owner: np.ndarray,
    windows: Windows,
    samples: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """Each sample's weights from its network, given its holdings (batched per network)."""
    out = np.zeros_like(held)
    for k in np.unique(owner):
        rows = np.flatnonzero(owner == k)
        net = networks[int(k)]
        device, dtype = placement(net, None, None)
        x = windows.x[torch.from_numpy(samples[rows])].to(device, dtype)
        prev = torch.from_numpy(held[rows]).to(device, dtype or x.dtype)
        with torch.no_grad():
            out[rows] = net(x, previous_weights=prev).double().cpu().numpy()
    return out
