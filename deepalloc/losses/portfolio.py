"""Losses on the portfolio's returns over the horizon.

Each loss is minimised: a return-like measure enters negated (``SharpeLoss`` is minus
the Sharpe ratio, ``MaxDrawdownLoss`` minus the (negative) maximum drawdown) and a
dispersion enters as it is (``VolatilityLoss``). Which channel of y holds returns,
whether they are simple or log, and whether the portfolio is held (buy and hold) or
rebalanced every step are set once, on the loss; composite losses check that their
parts agree, and the training loop checks the kind against the dataset's
``returns_kind``. Every setting is a keyword-only argument. Signs and tail levels:
:ref:`conventions-signs`, :ref:`conventions-tails`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepalloc._channels import ChannelSpec, ReadsReturns
from deepalloc._checks import check_choice
from deepalloc._typing import ReturnsKind
from deepalloc.functional import measures
from deepalloc.functional.returns import portfolio_returns, to_simple
from deepalloc.functional.risk import covariance
from deepalloc.losses.base import Loss


@dataclass(repr=False, eq=False, kw_only=True)
class PortfolioLoss(ReadsReturns, Loss):
    """A loss on the portfolio's returns over the horizon.

    Parameters
    ----------
    returns_channel
        The channel of y that holds asset returns: an index, a name, or ``None`` (the
        only channel, else the one named ``"returns"``; see :mod:`deepalloc._channels`).
    kind
        Whether those returns are ``"simple"`` or ``"log"``.
    rebalance
        Hold the weights over the horizon (``False``, buy and hold) or rebalance to
        them every step (``True``).
    """

    returns_channel: ChannelSpec = None
    kind: ReturnsKind = "simple"
    rebalance: bool = False

    def __post_init__(self) -> None:
        check_choice("kind", self.kind, ("simple", "log"))

    def return_settings(self) -> set[tuple[int | str | None, str, bool]]:
        return {(self.returns_channel, self.kind, self.rebalance)}

    def asset_returns(self, y: torch.Tensor) -> torch.Tensor:
        """The returns channel of y, shape (batch, asset, horizon), as given (``kind``)."""
        return y[:, self.channel_index(y.shape[1])]

    def returns(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Portfolio simple returns, shape (batch, horizon)."""
        return portfolio_returns(
            weights, self.asset_returns(y), kind=self.kind, rebalance=self.rebalance
        )

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.score(self.returns(weights, y))


@dataclass(repr=False, eq=False, kw_only=True)
class SharpeLoss(PortfolioLoss):
    """Minus the per-step Sharpe ratio (see :func:`deepalloc.functional.measures.sharpe_ratio`)."""

    risk_free: float = 0.0
    eps: float = 1e-8
    ddof: int = 0

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.sharpe_ratio(
            returns, risk_free=self.risk_free, eps=self.eps, ddof=self.ddof
        )


@dataclass(repr=False, eq=False, kw_only=True)
class SortinoLoss(PortfolioLoss):
    """Minus the Sortino ratio, excess and downside both against ``target``."""

    target: float = 0.0
    eps: float = 1e-8

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.sortino_ratio(returns, target=self.target, eps=self.eps)


@dataclass(repr=False, eq=False, kw_only=True)
class MeanReturnLoss(PortfolioLoss):
    """Minus the mean per-step return."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.mean_return(returns)


@dataclass(repr=False, eq=False, kw_only=True)
class CumulativeReturnLoss(PortfolioLoss):
    """Minus the compounded return over the horizon."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.cumulative_return(returns)


@dataclass(repr=False, eq=False, kw_only=True)
class VolatilityLoss(PortfolioLoss):
    """The standard deviation of per-step returns."""

    ddof: int = 0

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.volatility(returns, ddof=self.ddof)


@dataclass(repr=False, eq=False, kw_only=True)
class MaxDrawdownLoss(PortfolioLoss):
    """Minus the maximum drawdown (a positive fraction), the wealth path starting at 1."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.max_drawdown(returns)


@dataclass(repr=False, eq=False, kw_only=True)
class VaRLoss(PortfolioLoss):
    """Minus the historical value at risk at ``confidence`` (positive is a loss)."""

    confidence: float = 0.95

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.value_at_risk(returns, confidence=self.confidence)


@dataclass(repr=False, eq=False, kw_only=True)
class CVaRLoss(PortfolioLoss):
    """Minus the historical conditional value at risk at ``confidence`` (positive is a loss)."""

    confidence: float = 0.95

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.conditional_value_at_risk(returns, confidence=self.confidence)


@dataclass(repr=False, eq=False, kw_only=True)
class WorstReturnLoss(PortfolioLoss):
    """Minus the worst per-step return."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.worst_return(returns)


@dataclass(repr=False, eq=False, kw_only=True)
class DownsideRiskLoss(PortfolioLoss):
    """Downside deviation below ``target``."""

    target: float = 0.0

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.downside_risk(returns, target=self.target)


@dataclass(repr=False, eq=False, kw_only=True)
class TargetReturnLoss(PortfolioLoss):
    """Squared distance of the mean per-step return to ``target``."""

    target: float = 0.0

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return (measures.mean_return(returns) - self.target) ** 2


@dataclass(repr=False, eq=False, kw_only=True)
class TargetVolatilityLoss(PortfolioLoss):
    """Squared distance of the per-step volatility to ``target``."""

    target: float = 0.01
    ddof: int = 0

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return (measures.volatility(returns, ddof=self.ddof) - self.target) ** 2


@dataclass(repr=False, eq=False, kw_only=True)
class AlphaLoss(PortfolioLoss):
    """Minus the per-step Jensen alpha against a benchmark portfolio held the same way.

    ``benchmark_weights`` (asset,) defaults to equal weight.
    """

    benchmark_weights: torch.Tensor | None = None

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.benchmark_weights is None:
            bench_w = torch.full_like(weights, 1.0 / weights.shape[1])
        else:
            bench_w = self.benchmark_weights.to(weights).expand_as(weights)
        bench = self.returns(bench_w, y)
        return -measures.alpha(self.returns(weights, y), bench)


@dataclass(repr=False, eq=False, kw_only=True)
class RiskParityLoss(PortfolioLoss):
    """Squared distance of risk contributions to ``budgets`` (default equal).

    The covariance is the sample covariance (ddof 0) of the asset returns over the
    horizon, so the horizon should be longer than a few steps.
    """

    budgets: torch.Tensor | None = None

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cov = covariance(to_simple(self.asset_returns(y), self.kind), ddof=0)
        budgets = None if self.budgets is None else self.budgets.to(weights)
        return measures.risk_contribution_deviation(weights, cov, budgets)
