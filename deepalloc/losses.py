"""Losses to minimise: ``loss(weights, y) -> Tensor (batch,)``.

Each loss is the negation of a return-like measure (``SharpeLoss = -sharpe``) or the
plain value of a risk measure (``VolatilityLoss = volatility``), so reported measures
keep their natural sign. Losses score weights (batch, asset) against future returns
y (batch, channel, asset, horizon) and never know how the weights were made.

Which channel of y holds returns, whether they are simple or log, and whether the
portfolio is held (buy and hold) or rebalanced every step are set once, on the loss;
composite losses check that their parts agree, and :func:`deepalloc.train.fit` checks
the kind against the dataset's ``returns_kind``.

Losses compose into real objects whose repr reads like the expression::

    loss = SharpeLoss() + 0.5 * MaxDrawdownLoss()
    loss                      # SharpeLoss() + 0.5 * MaxDrawdownLoss()
    (loss - VolatilityLoss()) / 3
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from deepalloc._checks import check_choice, check_ndim, check_same_size
from deepalloc._typing import ReturnsKind
from deepalloc.functional import measures
from deepalloc.functional.returns import portfolio_returns, to_simple
from deepalloc.functional.risk import covariance

__all__ = [
    "AlphaLoss",
    "CVaRLoss",
    "ConcentrationLoss",
    "CumulativeReturnLoss",
    "DownsideRiskLoss",
    "LargestWeightLoss",
    "Loss",
    "MaxDrawdownLoss",
    "MeanReturnLoss",
    "RiskParityLoss",
    "Scale",
    "SharpeLoss",
    "SortinoLoss",
    "Sum",
    "TargetReturnLoss",
    "TargetVolatilityLoss",
    "TurnoverLoss",
    "VaRLoss",
    "VolatilityLoss",
    "WorstReturnLoss",
]


class Loss:
    """Base of every loss: callable on ``(weights, y)``, returning one value per sample."""

    def __call__(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score weights (batch, asset) against y (batch, channel, asset, horizon) -> (batch,)."""
        check_ndim("weights", weights, 2, "batch, asset")
        check_ndim("y", y, 4, "batch, channel, asset, horizon")
        check_same_size(["weights", "y"], [weights.shape[0], y.shape[0]], "batch")
        check_same_size(["weights", "y"], [weights.shape[1], y.shape[2]], "asset")
        return self.forward(weights, y)

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample loss on validated inputs; subclasses implement it."""
        raise NotImplementedError

    def return_settings(self) -> set[tuple[int, str, bool]]:
        """The ``(returns_channel, kind, rebalance)`` settings used by the leaves of this loss."""
        return set()

    def __add__(self, other: object) -> Loss:
        if isinstance(other, int | float) and other == 0:
            return self
        if not isinstance(other, Loss):
            return NotImplemented
        return Sum(self, other)

    def __radd__(self, other: object) -> Loss:
        return self.__add__(other)  # lets sum([...]) start from 0

    def __sub__(self, other: object) -> Loss:
        if not isinstance(other, Loss):
            return NotImplemented
        return Sum(self, Scale(other, -1.0))

    def __neg__(self) -> Loss:
        return Scale(self, -1.0)

    def __mul__(self, factor: object) -> Loss:
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            return NotImplemented
        return Scale(self, float(factor))

    __rmul__ = __mul__

    def __truediv__(self, divisor: object) -> Loss:
        if isinstance(divisor, bool) or not isinstance(divisor, int | float):
            return NotImplemented
        if divisor == 0:
            raise ZeroDivisionError("a loss divided by zero")
        return Scale(self, 1.0 / float(divisor), divisor=float(divisor))

    def __repr__(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        shown = []
        for name, param in params.items():
            if name == "self" or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                continue
            value = getattr(self, name)
            default = param.default
            if isinstance(value, torch.Tensor) or (
                value is not default and (default is None or value != default)
            ):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _format_number(x: float) -> str:
    return f"{x:g}"


class Sum(Loss):
    """Sum of losses; ``a + b`` and ``a - b`` build it."""

    terms: list[Loss]

    def __init__(self, *terms: Loss):
        flat: list[Loss] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, Sum) else [term])
        if len(flat) < 2:
            raise ValueError(f"Sum: expected at least two losses, got {len(flat)}")
        self.terms = flat
        settings = self.return_settings()
        if len(settings) > 1:
            raise ValueError(
                "Sum: expected every part to read y the same way (returns_channel, kind, "
                f"rebalance), got {sorted(settings)}"
            )

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = self.terms[0].forward(weights, y)
        for term in self.terms[1:]:
            total = total + term.forward(weights, y)
        return total

    def return_settings(self) -> set[tuple[int, str, bool]]:
        return set().union(*(t.return_settings() for t in self.terms))

    def __repr__(self) -> str:
        text = repr(self.terms[0])
        for term in self.terms[1:]:
            if isinstance(term, Scale) and term.factor < 0:
                text += f" - {Scale(term.loss, -term.factor, divisor=term._positive_divisor())!r}"
            else:
                text += f" + {term!r}"
        return text


class Scale(Loss):
    """A loss times a constant; ``c * a``, ``a * c``, ``a / c`` and ``-a`` build it."""

    def __init__(self, loss: Loss, factor: float, *, divisor: float | None = None):
        self.loss = loss
        self.factor = float(factor)
        self.divisor = divisor

    def _positive_divisor(self) -> float | None:
        return None if self.divisor is None else abs(self.divisor)

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.factor * self.loss.forward(weights, y)

    def return_settings(self) -> set[tuple[int, str, bool]]:
        return self.loss.return_settings()

    def __repr__(self) -> str:
        inner = repr(self.loss)
        if isinstance(self.loss, Sum):
            inner = f"({inner})"
        if self.divisor is not None:
            return f"{inner} / {_format_number(self.divisor)}"
        if self.factor == 1.0:
            return inner
        if self.factor == -1.0:
            return f"-{inner}"
        return f"{_format_number(self.factor)} * {inner}"


class PortfolioLoss(Loss):
    """A loss on the portfolio's returns over the horizon.

    Parameters
    ----------
    returns_channel
        Index of the channel of y that holds asset returns.
    kind
        Whether those returns are ``"simple"`` or ``"log"``.
    rebalance
        Hold the weights over the horizon (``False``, buy and hold) or rebalance to
        them every step (``True``).
    """

    def __init__(
        self, *, returns_channel: int = 0, kind: ReturnsKind = "simple", rebalance: bool = False
    ):
        check_choice("kind", kind, ("simple", "log"))
        self.returns_channel = returns_channel
        self.kind: ReturnsKind = kind
        self.rebalance = rebalance

    def return_settings(self) -> set[tuple[int, str, bool]]:
        return {(self.returns_channel, self.kind, self.rebalance)}

    def asset_returns(self, y: torch.Tensor) -> torch.Tensor:
        """The returns channel of y, shape (batch, asset, horizon), as given (``kind``)."""
        if not -y.shape[1] <= self.returns_channel < y.shape[1]:
            raise ValueError(
                f"returns_channel: expected an index into y's {y.shape[1]} channels, "
                f"got {self.returns_channel}"
            )
        return y[:, self.returns_channel]

    def returns(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Portfolio simple returns, shape (batch, horizon)."""
        return portfolio_returns(
            weights, self.asset_returns(y), kind=self.kind, rebalance=self.rebalance
        )

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.score(self.returns(weights, y))

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        """Loss from portfolio returns (batch, horizon) -> (batch,)."""
        raise NotImplementedError


class SharpeLoss(PortfolioLoss):
    """Minus the per-step Sharpe ratio (see :func:`deepalloc.functional.measures.sharpe_ratio`)."""

    def __init__(self, risk_free: float = 0.0, eps: float = 1e-8, ddof: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.risk_free, self.eps, self.ddof = risk_free, eps, ddof

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.sharpe_ratio(
            returns, risk_free=self.risk_free, eps=self.eps, ddof=self.ddof
        )


class SortinoLoss(PortfolioLoss):
    """Minus the Sortino ratio, excess and downside both against ``target``."""

    def __init__(self, target: float = 0.0, eps: float = 1e-8, **kwargs: Any):
        super().__init__(**kwargs)
        self.target, self.eps = target, eps

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.sortino_ratio(returns, target=self.target, eps=self.eps)


class MeanReturnLoss(PortfolioLoss):
    """Minus the mean per-step return."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.mean_return(returns)


class CumulativeReturnLoss(PortfolioLoss):
    """Minus the compounded return over the horizon."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.cumulative_return(returns)


class VolatilityLoss(PortfolioLoss):
    """The standard deviation of per-step returns."""

    def __init__(self, ddof: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.ddof = ddof

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.volatility(returns, ddof=self.ddof)


class MaxDrawdownLoss(PortfolioLoss):
    """The maximum drawdown (positive), the wealth path starting at 1."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.max_drawdown(returns)


class VaRLoss(PortfolioLoss):
    """Historical value at risk at level ``q`` (positive is a loss)."""

    def __init__(self, q: float = 0.95, **kwargs: Any):
        super().__init__(**kwargs)
        self.q = q

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.value_at_risk(returns, self.q)


class CVaRLoss(PortfolioLoss):
    """Historical conditional value at risk at level ``q`` (positive is a loss)."""

    def __init__(self, q: float = 0.95, **kwargs: Any):
        super().__init__(**kwargs)
        self.q = q

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.conditional_value_at_risk(returns, self.q)


class WorstReturnLoss(PortfolioLoss):
    """Minus the worst per-step return."""

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return -measures.worst_return(returns)


class DownsideRiskLoss(PortfolioLoss):
    """Downside deviation below ``target``."""

    def __init__(self, target: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.target = target

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return measures.downside_risk(returns, target=self.target)


class TargetReturnLoss(PortfolioLoss):
    """Squared distance of the mean per-step return to ``target``."""

    def __init__(self, target: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.target = target

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return (measures.mean_return(returns) - self.target) ** 2


class TargetVolatilityLoss(PortfolioLoss):
    """Squared distance of the per-step volatility to ``target``."""

    def __init__(self, target: float = 0.01, ddof: int = 0, **kwargs: Any):
        super().__init__(**kwargs)
        self.target, self.ddof = target, ddof

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return (measures.volatility(returns, ddof=self.ddof) - self.target) ** 2


class AlphaLoss(PortfolioLoss):
    """Minus the per-step Jensen alpha against a benchmark portfolio held the same way.

    ``benchmark_weights`` (asset,) defaults to equal weight.
    """

    def __init__(self, benchmark_weights: torch.Tensor | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.benchmark_weights = benchmark_weights

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.benchmark_weights is None:
            bench_w = torch.full_like(weights, 1.0 / weights.shape[1])
        else:
            bench_w = self.benchmark_weights.to(weights).expand_as(weights)
        bench = self.returns(bench_w, y)
        return -measures.alpha(self.returns(weights, y), bench)


class RiskParityLoss(PortfolioLoss):
    """Squared distance of risk contributions to ``budgets`` (default equal).

    The covariance is the sample covariance (ddof 0) of the asset returns over the
    horizon, so the horizon should be longer than a few steps.
    """

    def __init__(self, budgets: torch.Tensor | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.budgets = budgets

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        cov = covariance(to_simple(self.asset_returns(y), self.kind), ddof=0)
        budgets = None if self.budgets is None else self.budgets.to(weights)
        return measures.risk_contribution_deviation(weights, cov, budgets)


class ConcentrationLoss(Loss):
    """Herfindahl-Hirschman index of the weights (y is not used)."""

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return measures.concentration(weights)


class LargestWeightLoss(Loss):
    """Largest absolute weight (y is not used)."""

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return measures.largest_weight(weights)


class TurnoverLoss(Loss):
    """Two-sided turnover ``sum |w - previous|`` (y is not used).

    With ``previous_weights`` (asset,) every sample is compared with that portfolio.
    Without it, each sample is compared with the previous sample of the batch (the
    first one scores 0), which measures trading when batches come in time order.
    """

    def __init__(self, previous_weights: torch.Tensor | None = None):
        self.previous_weights = previous_weights

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.previous_weights is not None:
            return measures.turnover(weights, self.previous_weights.to(weights))
        previous = torch.cat([weights[:1], weights[:-1]], dim=0)
        return measures.turnover(weights, previous)
