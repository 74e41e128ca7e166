"""Allocation heads and the network container: ``weights = head(body(x), x)``.

The body turns x (batch, channel, asset, lookback) into per-asset features
(batch, feature, asset); the head turns features into weights with the allocator given:

- an allocator of scores (softmax, sparsemax, normalized tanh, ...) gets one linear
  score per asset (:class:`ScoreHead`);
- a mean-variance allocator (``MarkowitzAllocator``, or a ``ConvexAllocator`` with
  the ``mean_variance`` objective) gets expected returns from the features, a
  covariance square root estimated on the returns channel of x, and a learned risk
  aversion and L2 penalty (:class:`MeanVarianceHead`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from deepalloc._channels import ChannelSpec
from deepalloc._checks import check_finite, check_ndim
from deepalloc._recording import Recorded
from deepalloc.layers import CovarianceEstimator

MEAN_VARIANCE_INPUTS = ("mu", "cov_sqrt", "gamma", "alpha")
"""The inputs of a mean-variance allocator, in order (``mu`` before ``cov_sqrt``)."""


def _with_holdings(
    features: torch.Tensor, previous_weights: torch.Tensor | None, holdings_aware: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Features with the holdings joined as one more asset-wise feature (zeros, i.e.
    cash, when none are given), and the holdings (batch, asset) for the allocator."""
    if not holdings_aware:
        return features, previous_weights
    if previous_weights is None:
        previous_weights = features.new_zeros(features.shape[0], features.shape[2])
    check_ndim("previous_weights", previous_weights, 2, "batch, asset")
    check_finite("previous_weights", previous_weights)
    joined = torch.cat([features, previous_weights.to(features)[:, None, :]], dim=1)
    return joined, previous_weights


def _allocate(
    allocator: nn.Module,
    previous_weights: torch.Tensor | None,
    *inputs: torch.Tensor,
    kappa: torch.Tensor | None = None,
) -> torch.Tensor:
    """Call the allocator, passing the holdings (and a predicted cost rate ``kappa``,
    when given) when it prices trading."""
    if previous_weights is not None and "previous_weights" in getattr(allocator, "inputs", ()):
        out: torch.Tensor = allocator(*inputs, previous_weights=previous_weights, kappa=kappa)
    else:
        out = allocator(*inputs)
    return out


class ScoreHead(nn.Module):
    """Per-asset features (batch, feature, asset) -> one score per asset -> allocator.

    Parameters
    ----------
    n_features
        Features per asset.
    allocator
        Takes scores (batch, asset) (and ``previous_weights`` if it prices trading).
    holdings_aware
        Join the portfolio held before the decision as one more feature per asset.
    """

    def __init__(self, n_features: int, allocator: nn.Module, *, holdings_aware: bool = False):
        super().__init__()
        self.score = nn.Linear(n_features + int(holdings_aware), 1)
        self.allocator = allocator
        self.holdings_aware = holdings_aware

    def forward(
        self,
        features: torch.Tensor,
        x: torch.Tensor,
        previous_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features (batch, feature, asset), windows x and holdings (batch, asset) ->
        weights (batch, asset)."""
        features, held = _with_holdings(features, previous_weights, self.holdings_aware)
        scores = self.score(features.transpose(1, 2)).squeeze(-1)
        return _allocate(self.allocator, held, scores)


def default_covariance(returns_channel: ChannelSpec = None) -> CovarianceEstimator:
    """The mean-variance heads' risk model: Ledoit-Wolf shrinkage toward the diagonal
    of the returns in ``returns_channel``, Cholesky root (the allocator's ``||S w||^2`` needs a
    root, and every root gives the same weights, the triangular one cheapest)."""
    return CovarianceEstimator(
        "diagonal", "ledoit_wolf", sqrt_method="cholesky", returns_channel=returns_channel
    )


class CostRateHead(nn.Module):
    """Trading-cost rates a network predicts per sample and asset (batch, asset).

    ``kappa = base * exp(log(spread) * tanh(a))`` with ``a`` a linear function of the
    asset's features and ``base`` the allocator's own rate (a number or per-asset
    vector): a multiplier between ``1 / spread`` and ``spread``, smooth and bounded, that
    starts at 1 (zero-initialised ``a``), so the network starts at the configured rate
    and learns where trading should be priced higher or lower (e.g. in volatile assets).

    Parameters
    ----------
    n_features
        Features per asset (including the holdings feature of a holdings-aware head).
    allocator
        A mean-variance allocator built with ``trading_cost=...`` and a positive rate
        ``kappa`` (the base).
    spread
        Largest factor (> 1) by which the predicted rate may differ from the base.
    """

    def __init__(self, n_features: int, allocator: nn.Module, *, spread: float = 10.0):
        super().__init__()
        if "kappa" not in getattr(allocator, "inputs", ()):
            raise ValueError(
                "predict_kappa: expected an allocator that prices trading (built with "
                f"trading_cost=...), got {type(allocator).__name__} without trading costs"
            )
        base = torch.as_tensor(allocator.kappa)
        if not bool((base > 0).all()):
            raise ValueError(
                "predict_kappa: expected the allocator's kappa (the base rate) > 0, got "
                f"{base.tolist()}"
            )
        if not spread > 1:
            raise ValueError(f"spread: expected a factor > 1, got {spread}")
        self.log_spread = math.log(spread)
        self.logit = nn.Linear(n_features, 1)
        nn.init.zeros_(self.logit.weight)
        nn.init.zeros_(self.logit.bias)

    def forward(self, features: torch.Tensor, base: float | torch.Tensor) -> torch.Tensor:
        """Features (batch, feature, asset) and the base rate (a number or (asset,)) ->
        rates (batch, asset)."""
        a = self.logit(features.transpose(1, 2)).squeeze(-1)
        if isinstance(base, torch.Tensor) and base.ndim == 1 and base.shape[0] != a.shape[1]:
            raise ValueError(
                f"kappa: expected the allocator's per-asset rate for {a.shape[1]} assets, got "
                f"{base.shape[0]} rates (a per-asset base ties the network to its assets)"
            )
        return (self.log_spread * torch.tanh(a)).exp() * base


class MeanVarianceHead(nn.Module):
    """Expected returns from features, risk from x, learned risk aversion -> allocator.

    Parameters
    ----------
    n_features
        Features per asset.
    allocator
        Takes ``(mu, cov_sqrt, gamma, alpha)``.
    covariance
        Estimator applied to x (default: :func:`default_covariance`).
    mu_scale
        Multiplies the linear output so expected returns start on the scale of
        per-period returns (1e-3 for daily data).
    gamma, alpha
        Initial risk aversion and L2 penalty (both learned, kept positive).
    holdings_aware
        Join the portfolio held before the decision as one more feature per asset (and
        pass it to an allocator that prices trading).
    predict_kappa
        Predict the allocator's trading-cost rate per sample and asset from the
        features (:class:`CostRateHead`) instead of using its fixed ``kappa``; needs
        ``holdings_aware`` and an allocator built with ``trading_cost=...``.
    """

    def __init__(
        self,
        n_features: int,
        allocator: nn.Module,
        *,
        covariance: nn.Module | None = None,
        mu_scale: float = 1e-3,
        gamma: float = 1.0,
        alpha: float = 1e-2,
        holdings_aware: bool = False,
        predict_kappa: bool = False,
    ):
        super().__init__()
        self.mu = nn.Linear(n_features + int(holdings_aware), 1)
        self.holdings_aware = holdings_aware
        self.covariance = covariance or default_covariance()
        self.mu_scale = mu_scale
        self.log_gamma = nn.Parameter(torch.tensor(float(gamma)).log())
        self.log_alpha = nn.Parameter(torch.tensor(float(alpha)).log())
        self.allocator = allocator
        self.cost_rates: CostRateHead | None = None
        if predict_kappa:
            self.use_predicted_kappa()

    def use_predicted_kappa(self) -> None:
        """Predict the allocator's trading-cost rate from the features from now on
        (a new :class:`CostRateHead`, starting at the allocator's ``kappa``)."""
        if not self.holdings_aware:
            raise ValueError(
                "predict_kappa: expected holdings_aware=True (a trading cost needs the "
                "holdings), got holdings_aware=False"
            )
        self.cost_rates = CostRateHead(self.mu.in_features, self.allocator)

    def forward(
        self,
        features: torch.Tensor,
        x: torch.Tensor,
        previous_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Features (batch, feature, asset), windows x and holdings (batch, asset) ->
        weights (batch, asset)."""
        b = x.shape[0]
        features, held = _with_holdings(features, previous_weights, self.holdings_aware)
        mu = self.mu(features.transpose(1, 2)).squeeze(-1) * self.mu_scale
        cov_sqrt = self.covariance(x)
        gamma = self.log_gamma.exp().to(x.dtype).expand(b)
        alpha = self.log_alpha.exp().to(x.dtype).expand(b)
        kappa = None if self.cost_rates is None else self.cost_rates(features, self.allocator.kappa)
        return _allocate(self.allocator, held, mu, cov_sqrt, gamma, alpha, kappa=kappa)


TRADING_INPUTS = ("previous_weights", "kappa")
"""Inputs an allocator that prices trading takes after its own (the head passes the
holdings; a cost ``kappa`` the allocator owns)."""


def make_head(
    allocator: nn.Module, n_features: int, *, holdings_aware: bool = False, **mean_variance: object
) -> nn.Module:
    """The head that fits ``allocator``'s inputs (see the module docstring)."""
    inputs = tuple(i for i in getattr(allocator, "inputs", ()) if i not in TRADING_INPUTS)
    if inputs == MEAN_VARIANCE_INPUTS:
        return MeanVarianceHead(
            n_features,
            allocator,
            holdings_aware=holdings_aware,
            **mean_variance,  # type: ignore[arg-type]
        )
    if inputs:
        raise ValueError(
            f"allocator: expected one taking scores or {MEAN_VARIANCE_INPUTS}, got "
            f"{type(allocator).__name__} taking {inputs}"
        )
    return ScoreHead(n_features, allocator, holdings_aware=holdings_aware)


class AllocationNetwork(Recorded, nn.Module):
    """``weights = head(body(x), x[, previous_weights])``.

    Parameters
    ----------
    body
        Module mapping x (batch, channel, asset, lookback) to (batch, feature, asset).
    head
        Module mapping (features, x[, previous_weights]) to weights (batch, asset).

    Attributes
    ----------
    holdings_aware
        Whether the head sees the portfolio held before the decision: such a network is
        called as ``network(x, previous_weights=held)`` (sequential training and
        suites do; without holdings it decides as from cash).
    """

    def __init__(self, body: nn.Module, head: nn.Module):
        super().__init__()
        self.body, self.head = body, head
        self.holdings_aware = bool(getattr(head, "holdings_aware", False))

    def forward(
        self, x: torch.Tensor, previous_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Windows (batch, channel, asset, lookback) [and holdings (batch, asset)] ->
        weights (batch, asset)."""
        check_ndim("x", x, 4, "batch, channel, asset, lookback")
        if self.holdings_aware:
            out: torch.Tensor = self.head(self.body(x), x, previous_weights)
        else:
            out = self.head(self.body(x), x)
        return out
