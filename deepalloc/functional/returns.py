"""Portfolio returns over a horizon, wealth and drawdown paths (pure torch).

Shapes: weights (batch, asset); asset returns y (batch, asset, horizon); portfolio
returns (batch, horizon). Portfolio returns are always simple returns. Costs are
``costs_bps``, basis points of traded value (:ref:`conventions-costs`).
"""

from __future__ import annotations

import torch

from deepalloc._checks import check_choice, check_ndim, check_same_size
from deepalloc._typing import ReturnsKind


def to_simple(y: torch.Tensor, kind: ReturnsKind) -> torch.Tensor:
    """Convert asset returns of the given ``kind`` to simple returns (same shape)."""
    check_choice("kind", kind, ("simple", "log"))
    return torch.expm1(y) if kind == "log" else y


def portfolio_returns(
    weights: torch.Tensor,
    y: torch.Tensor,
    *,
    kind: ReturnsKind = "simple",
    rebalance: bool = False,
    previous_weights: torch.Tensor | None = None,
    costs_bps: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    """Per-step simple returns of portfolios held over a horizon.

    Parameters
    ----------
    weights
        Portfolio weights at the start of the horizon, shape (batch, asset). They may
        be negative (shorts) and need not sum to one: ``1 - sum(weights)`` is cash at a
        zero return.
    y
        Asset returns over the horizon, shape (batch, asset, horizon).
    kind
        Whether ``y`` holds ``"simple"`` or ``"log"`` returns.
    rebalance
        ``False`` (default): buy and hold, the positions drift with the assets, as an
        investor who does not trade during the horizon. ``True``: constant mix,
        rebalanced to ``weights`` at every step (no costs charged for it).
    previous_weights
        Weights held before the initial trade, shape (batch, asset) or (asset,). With
        ``costs_bps`` it prices the initial trade; default no previous position (cash).
    costs_bps
        Proportional cost in basis points of traded value (10 = 0.1%), scalar or per
        asset (asset,), charged once at the start on ``|w - previous|``: the whole
        portfolio is scaled by ``1 - cost paid``, so only the first step's return changes.

    Returns
    -------
    torch.Tensor
        Simple portfolio returns, shape (batch, horizon).
    """
    check_ndim("weights", weights, 2, "batch, asset")
    check_ndim("y", y, 3, "batch, asset, horizon")
    check_same_size(["weights", "y"], [weights.shape[0], y.shape[0]], "batch")
    check_same_size(["weights", "y"], [weights.shape[1], y.shape[1]], "asset")
    simple = to_simple(y, kind)
    if rebalance:
        out = torch.einsum("ba,bah->bh", weights, simple)
    else:
        growth = torch.cumprod(1.0 + simple, dim=-1)
        cash = 1.0 - weights.sum(-1, keepdim=True)
        value = cash + torch.einsum("ba,bah->bh", weights, growth)
        previous = torch.cat([torch.ones_like(value[:, :1]), value[:, :-1]], dim=-1)
        out = value / previous - 1.0
    if previous_weights is not None or not (isinstance(costs_bps, float | int) and costs_bps == 0):
        prev = torch.zeros_like(weights) if previous_weights is None else previous_weights
        paid = (
            torch.as_tensor(costs_bps, dtype=weights.dtype, device=weights.device)
            * 1e-4
            * (weights - prev).abs()
        ).sum(-1)
        first = (1.0 - paid) * (1.0 + out[:, 0]) - 1.0
        out = torch.cat([first[:, None], out[:, 1:]], dim=-1)
    return out


def wealth(returns: torch.Tensor, initial: float = 1.0) -> torch.Tensor:
    """Wealth after each step, ``initial * cumprod(1 + r)``, shape (batch, horizon)."""
    return initial * torch.cumprod(1.0 + returns, dim=-1)


def drawdown(returns: torch.Tensor) -> torch.Tensor:
    """Drawdown after each step, ``wealth / running peak - 1`` (<= 0), shape (batch, horizon).

    The wealth path starts at 1 before the first step, so a loss on the first step is
    already a drawdown.
    """
    path = wealth(returns)
    start = torch.ones_like(path[:, :1])
    peak = torch.cummax(torch.cat([start, path], dim=-1), dim=-1).values[:, 1:]
    return path / peak - 1.0
