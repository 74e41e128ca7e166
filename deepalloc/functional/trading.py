"""Trading a portfolio through time, differentiably: trade, then hold until the next trade.

The same timing and arithmetic as :func:`deepalloc.backtest.backtest` (with ``lag=0``,
trading every decision): a decision made at the close of day ``t`` is traded at that
close against the holdings drifted by day ``t``'s return; the trade costs
``costs_bps`` basis points of the traded value ``|w - held|`` and is charged on day
``t``'s return, ``(1 + r_t)(1 - cost) - 1``; the new weights then drift with the asset
returns of the following days (``1 - sum(w)`` is cash at a zero return). Sequential
training (:mod:`deepalloc.training.sequential`) chains these steps, feeding each
decision the holdings it trades against, so that the training path is the backtest's.

Shapes: holdings and weights (batch, asset); asset returns between decisions
(batch, asset, days).
"""

from __future__ import annotations

import torch


def trade_cost(
    held: torch.Tensor, target: torch.Tensor, costs_bps: float | torch.Tensor
) -> torch.Tensor:
    """Fraction of the portfolio paid to trade from ``held`` to ``target``, shape (batch,).

    ``costs_bps`` is a scalar or per asset (asset,), in basis points of traded value.
    """
    rate = torch.as_tensor(costs_bps, dtype=target.dtype, device=target.device) * 1e-4
    return (rate * (target - held).abs()).sum(-1)


def trade_and_hold(
    held: torch.Tensor,
    growth: torch.Tensor,
    target: torch.Tensor,
    returns: torch.Tensor,
    costs_bps: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Trade to ``target`` at a decision's close, then hold through ``returns``.

    Parameters
    ----------
    held
        Holdings at the decision day's close before the trade (drifted through that day),
        shape (batch, asset); zeros for a portfolio that starts in cash.
    growth
        ``1 +`` the decision day's return earned by ``held``, shape (batch,); ones for a
        portfolio that starts in cash on the decision day.
    target
        Weights traded at the close, shape (batch, asset).
    returns
        Simple asset returns of the ``days`` after the decision, up to and including the
        next decision day, shape (batch, asset, days).
    costs_bps
        Proportional cost of the trade, basis points (scalar or per asset).

    Returns
    -------
    day_returns
        Portfolio returns, net of the trade's cost, of the decision day and of the
        ``days - 1`` days after it, shape (batch, days): the next decision day's return
        is not included (its own trade may charge it).
    next_held
        Holdings at the next decision day's close, before its trade, shape (batch, asset).
    next_growth
        ``1 +`` the next decision day's return, shape (batch,).
    """
    paid = trade_cost(held, target, costs_bps)
    first = growth * (1.0 - paid) - 1.0
    value = (1.0 - target.sum(-1, keepdim=True)) + torch.einsum(
        "ba,bad->bd", target, torch.cumprod(1.0 + returns, dim=-1)
    )
    previous = torch.cat([torch.ones_like(value[:, :1]), value[:, :-1]], dim=-1)
    daily = value / previous - 1.0
    next_held = target * torch.prod(1.0 + returns, dim=-1) / value[:, -1:]
    day_returns = torch.cat([first[:, None], daily[:, :-1]], dim=-1)
    return day_returns, next_held, 1.0 + daily[:, -1]
