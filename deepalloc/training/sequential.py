"""Sequential training: decisions in time order, each against the holdings it trades.

Every run of a :class:`~deepalloc.data.SequentialLoader` starts in cash; decision
``k`` gets the holdings left by the previous ones (drifted by the realised returns
exactly as :func:`deepalloc.backtest.backtest` drifts them), its trade pays the
proportional cost, and the path's after-cost daily returns are what the loss scores.
Gradients flow through the holdings from decision to decision, truncated every
``truncate_every`` decisions. A network that declares ``holdings_aware = True`` receives
the holdings as ``network(x, previous_weights=held)``; any other network is called as
``network(x)`` (it is still trained on its after-cost path).
"""

from __future__ import annotations

import torch
from torch import nn

from deepalloc.data.sequential import RunBatch, SequentialLoader
from deepalloc.functional.trading import trade_and_hold


def decide(network: nn.Module, x: torch.Tensor, held: torch.Tensor) -> torch.Tensor:
    """Weights (batch, asset) for windows x, given the holdings when the network uses them."""
    if getattr(network, "holdings_aware", False):
        out: torch.Tensor = network(x, previous_weights=held)
        return out
    out = network(x)
    return out


def path_returns(
    network: nn.Module, batch: RunBatch, loader: SequentialLoader
) -> tuple[torch.Tensor, torch.Tensor]:
    """After-cost daily returns of every run of the batch, and the decisions' weights.

    Returns
    -------
    returns
        Shape (batch, run_length * stride + 1): the first decision's day (the trade from
        cash), the days held, and the last decision's holding period up to its end.
    weights
        Shape (run_length, batch, asset).
    """
    run_length, b, _, n_assets, _ = batch.x.shape
    held = batch.x.new_zeros(b, n_assets)
    growth = batch.x.new_ones(b)
    days, decisions = [], []
    for k in range(run_length):
        if loader.truncate_every is not None and k and k % loader.truncate_every == 0:
            held, growth = held.detach(), growth.detach()
        w = decide(network, batch.x[k], held)
        r, held, growth = trade_and_hold(held, growth, w, batch.returns[k], loader.costs_bps)
        days.append(r)
        decisions.append(w)
    days.append((growth - 1.0)[:, None])
    return torch.cat(days, dim=-1), torch.stack(decisions)
