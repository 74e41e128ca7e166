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
    allocator: nn.Module, previous_weights: torch.Tensor | None, *inputs: torch.Tensor
) -> torch.Tensor:
    """Call the allocator, passing the holdings when it prices trading."""
    if previous_weights is not None and "previous_weights" in getattr(allocator, "inputs", ()):
        out: torch.Tensor = allocator(*inputs, previous_weights=previous_weights)
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
    ):
        super().__init__()
        self.mu = nn.Linear(n_features + int(holdings_aware), 1)
        self.holdings_aware = holdings_aware
        self.covariance = covariance or default_covariance()
        self.mu_scale = mu_scale
        self.log_gamma = nn.Parameter(torch.tensor(float(gamma)).log())
        self.log_alpha = nn.Parameter(torch.tensor(float(alpha)).log())
        self.allocator = allocator

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
        return _allocate(self.allocator, held, mu, cov_sqrt, gamma, alpha)


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
