"""Performance and risk measures, one value per sample, differentiable (pure torch).

Return measures take simple portfolio returns of shape (batch, horizon); weight
measures take weights of shape (batch, asset). Signs follow one convention across the
library (:ref:`conventions-signs`): quantities expressed as
returns keep the sign of a return, so losses are negative numbers (maximum drawdown,
value at risk, conditional value at risk, worst return, as in quantstats and
empyrical); dispersions are positive (volatility, downside risk); tail levels are given
as a ``confidence`` (0.95). Losses to minimise negate what must be maximised.

Dispersion uses ``ddof`` (default 0, the population formula) so that a horizon of one
step is defined; the annualised reporting metrics in :mod:`deepalloc.metrics` use
ddof 1 as quantstats and empyrical do.
"""

from __future__ import annotations

import torch

from deepalloc._tail import check_confidence, tail_count
from deepalloc.functional.returns import drawdown


def mean_return(returns: torch.Tensor) -> torch.Tensor:
    """Arithmetic mean per step, shape (batch,)."""
    return returns.mean(-1)


def volatility(returns: torch.Tensor, *, ddof: int = 0) -> torch.Tensor:
    """Standard deviation of the per-step returns, shape (batch,)."""
    return returns.var(-1, correction=ddof).sqrt()


def sharpe_ratio(
    returns: torch.Tensor, *, risk_free: float = 0.0, eps: float = 1e-8, ddof: int = 0
) -> torch.Tensor:
    """Per-step Sharpe ratio ``mean(r - rf) / sqrt(var(r) + eps)``, shape (batch,).

    ``eps`` keeps the ratio and its gradient finite when the returns are constant. At a
    horizon of one step the variance is zero and the ratio is ``(r - rf) / sqrt(eps)``:
    finite, but only a scaled return; train on a longer horizon (or on the mean return)
    to reward risk-adjusted performance.
    """
    excess = returns - risk_free
    return excess.mean(-1) / (returns.var(-1, correction=ddof) + eps).sqrt()


def downside_risk(returns: torch.Tensor, *, target: float = 0.0) -> torch.Tensor:
    """Downside deviation below ``target``: ``sqrt(mean(min(r - target, 0)^2))``, shape (batch,)."""
    below = torch.clamp(returns - target, max=0.0)
    return (below**2).mean(-1).sqrt()


def sortino_ratio(returns: torch.Tensor, *, target: float = 0.0, eps: float = 1e-8) -> torch.Tensor:
    """Sortino ratio ``mean(r - target) / sqrt(mean(min(r - target, 0)^2) + eps)``, shape (batch,).

    Both the excess return and the downside deviation are measured against the same
    ``target``.
    """
    excess = returns - target
    below = torch.clamp(excess, max=0.0)
    return excess.mean(-1) / ((below**2).mean(-1) + eps).sqrt()


def cumulative_return(returns: torch.Tensor) -> torch.Tensor:
    """Compounded return over the horizon, ``prod(1 + r) - 1``, shape (batch,)."""
    return torch.prod(1.0 + returns, dim=-1) - 1.0


def max_drawdown(returns: torch.Tensor) -> torch.Tensor:
    """Largest fall from a running peak of wealth, a negative fraction (or 0), shape (batch,).

    Wealth starts at 1 before the first step, so a first-step loss counts.
    """
    return drawdown(returns).min(-1).values


def value_at_risk(returns: torch.Tensor, *, confidence: float = 0.95) -> torch.Tensor:
    """Historical value at risk: the ``1 - confidence`` quantile of returns (linear
    interpolation, as ``numpy.percentile``); negative is a loss. Shape (batch,)."""
    check_confidence(confidence)
    return torch.quantile(returns, 1.0 - confidence, dim=-1)


def conditional_value_at_risk(returns: torch.Tensor, *, confidence: float = 0.95) -> torch.Tensor:
    """Historical CVaR: the mean of the worst ``int((n - 1) (1 - confidence)) + 1``
    returns (:func:`deepalloc._tail.tail_count`, empyrical's definition); negative is a
    loss. Shape (batch,)."""
    k = tail_count(returns.shape[-1], confidence)
    return -torch.topk(-returns, k, dim=-1).values.mean(-1)


def worst_return(returns: torch.Tensor) -> torch.Tensor:
    """Lowest per-step return, shape (batch,)."""
    return returns.min(-1).values


def concentration(weights: torch.Tensor) -> torch.Tensor:
    """Herfindahl-Hirschman index ``sum(w^2)``, shape (batch,)."""
    return (weights**2).sum(-1)


def largest_weight(weights: torch.Tensor) -> torch.Tensor:
    """Largest absolute weight, shape (batch,)."""
    return weights.abs().max(-1).values


def turnover(weights: torch.Tensor, previous_weights: torch.Tensor) -> torch.Tensor:
    """Two-sided turnover ``sum |w - previous|``; previous of shape (batch, asset) or (asset,)."""
    return (weights - previous_weights).abs().sum(-1)


def beta(returns: torch.Tensor, benchmark: torch.Tensor) -> torch.Tensor:
    """Beta to a benchmark's returns (both (batch, horizon)): ``cov(r, b) / var(b)``.

    Covariance and variance use the same (population) normalisation, so the ratio does
    not depend on it.
    """
    r = returns - returns.mean(-1, keepdim=True)
    b = benchmark - benchmark.mean(-1, keepdim=True)
    return (r * b).mean(-1) / (b * b).mean(-1)


def alpha(returns: torch.Tensor, benchmark: torch.Tensor) -> torch.Tensor:
    """Per-step Jensen alpha ``mean(r) - beta * mean(b)`` against benchmark returns, shape (batch,)."""
    return returns.mean(-1) - beta(returns, benchmark) * benchmark.mean(-1)


def risk_contributions(weights: torch.Tensor, covariance: torch.Tensor) -> torch.Tensor:
    """Relative risk contributions ``w_i (C w)_i / (w' C w)``, shape (batch, asset).

    ``covariance`` has shape (batch, asset, asset) or (asset, asset); they sum to one.
    """
    marginal = torch.einsum("...ij,...j->...i", covariance, weights)
    total = (weights * marginal).sum(-1, keepdim=True)
    return weights * marginal / total


def risk_contribution_deviation(
    weights: torch.Tensor, covariance: torch.Tensor, budgets: torch.Tensor | None = None
) -> torch.Tensor:
    """Squared distance ``sum_i (RC_i - b_i)^2`` of risk contributions to budgets, shape (batch,).

    ``budgets`` (asset,) or (batch, asset) sum to one; default equal risk contribution.
    """
    contributions = risk_contributions(weights, covariance)
    if budgets is None:
        budgets = torch.full_like(contributions, 1.0 / contributions.shape[-1])
    return ((contributions - budgets) ** 2).sum(-1)
