"""Inference: weights for new data, and metrics of a network over a loader."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pandas as pd
import torch
from torch import nn

from deepalloc._channels import bind_channels
from deepalloc.data import WindowLoader, Windows, make_windows
from deepalloc.data.sequential import RunBatch, SequentialLoader
from deepalloc.training.sequential import path_returns

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def placement(
    network: nn.Module, device: torch.device | str | None, dtype: torch.dtype | None
) -> tuple[torch.device | str | None, torch.dtype | None]:
    """Device and dtype for batches: as given, else those of the network's parameters."""
    reference = next((p for p in network.parameters() if p.is_floating_point()), None)
    if reference is None:
        return device, dtype
    return device or reference.device, dtype or reference.dtype


def evaluate_metrics(
    network: nn.Module,
    loader: WindowLoader | SequentialLoader,
    metrics: Mapping[str, Metric],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean of each metric over every sample of a :class:`~deepalloc.data.WindowLoader`
    (a loss or ``(weights, y) -> (batch,)``), or over every run of a
    :class:`~deepalloc.data.SequentialLoader` (a loss scoring the run's after-cost path
    with ``score``)."""
    device, dtype = placement(network, device, dtype)
    network.eval()
    totals = dict.fromkeys(metrics, 0.0)
    count = 0
    with torch.no_grad():
        for batch in loader:
            if isinstance(batch, RunBatch):
                assert isinstance(loader, SequentialLoader)
                returns, _ = path_returns(network, batch.to(device, dtype), loader)
                scores = {name: _score(name, m, returns) for name, m in metrics.items()}
                count += batch.x.shape[1]
            else:
                x, y = batch[0].to(device, dtype), batch[1].to(device, dtype)
                weights = network(x)
                scores = {name: metric(weights, y) for name, metric in metrics.items()}
                count += x.shape[0]
            for name, value in scores.items():
                totals[name] += float(value.sum())
    return {name: value / max(count, 1) for name, value in totals.items()}


def _score(name: str, metric: Metric, returns: torch.Tensor) -> torch.Tensor:
    score = getattr(metric, "score", None)
    if score is None:
        raise TypeError(
            f"metrics[{name!r}]: expected a loss with score(returns) for a sequential loader, "
            f"got {type(metric).__name__}"
        )
    out: torch.Tensor = score(returns)
    return out


def predict(
    network: nn.Module,
    data: Windows | pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    lookback: int | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> pd.DataFrame:
    """Weights for every decision date of ``data``, which needs no future returns.

    Parameters
    ----------
    network
        Maps x (batch, channel, asset, lookback) to weights (batch, asset).
    data
        :class:`~deepalloc.data.Windows` (any horizon, including 0), or feature
        frame(s) as accepted by :func:`~deepalloc.data.make_windows` together with
        ``lookback``; every date with a full lookback gets weights.
    batch_size, device, dtype
        Inference batching and placement (default: the network's parameters').

    Returns
    -------
    pandas.DataFrame
        Weights indexed by decision date (the last date of each window), one column per
        asset.
    """
    if isinstance(data, Windows):
        windows = data
    else:
        if lookback is None:
            raise ValueError("lookback: expected the window length for frame input, got None")
        windows = make_windows(data, lookback=lookback, horizon=0)
    bind_channels(network.modules(), windows.channels)
    device, dtype = placement(network, device, dtype)
    dtype = dtype or windows.data.dtype
    network.eval()
    x_all = windows.x
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            x = x_all[start : start + batch_size].to(device, dtype)
            out.append(network(x).detach().cpu().double())
    values = torch.cat(out).numpy()
    return pd.DataFrame(values, index=windows.timestamps, columns=windows.assets)
