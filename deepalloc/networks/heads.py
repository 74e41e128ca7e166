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
from deepalloc._checks import check_ndim
from deepalloc.layers import CovarianceEstimator

MEAN_VARIANCE_INPUTS = ("mu", "cov_sqrt", "gamma", "alpha")
"""The inputs of a mean-variance allocator, in order (``mu`` before ``cov_sqrt``)."""


class ScoreHead(nn.Module):
    """Per-asset features (batch, feature, asset) -> one score per asset -> allocator."""

    def __init__(self, n_features: int, allocator: nn.Module):
        super().__init__()
        self.score = nn.Linear(n_features, 1)
        self.allocator = allocator

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Features (batch, feature, asset) and windows x -> weights (batch, asset)."""
        scores = self.score(features.transpose(1, 2)).squeeze(-1)
        return self.allocator(scores)


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
    ):
        super().__init__()
        self.mu = nn.Linear(n_features, 1)
        self.covariance = covariance or default_covariance()
        self.mu_scale = mu_scale
        self.log_gamma = nn.Parameter(torch.tensor(float(gamma)).log())
        self.log_alpha = nn.Parameter(torch.tensor(float(alpha)).log())
        self.allocator = allocator

    def forward(self, features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Features (batch, feature, asset) and windows x -> weights (batch, asset)."""
        b = x.shape[0]
        mu = self.mu(features.transpose(1, 2)).squeeze(-1) * self.mu_scale
        cov_sqrt = self.covariance(x)
        gamma = self.log_gamma.exp().to(x.dtype).expand(b)
        alpha = self.log_alpha.exp().to(x.dtype).expand(b)
        return self.allocator(mu, cov_sqrt, gamma, alpha)


def make_head(allocator: nn.Module, n_features: int, **mean_variance: object) -> nn.Module:
    """The head that fits ``allocator``'s inputs (see the module docstring)."""
    inputs = tuple(getattr(allocator, "inputs", ()))
    if inputs == MEAN_VARIANCE_INPUTS:
        return MeanVarianceHead(n_features, allocator, **mean_variance)  # type: ignore[arg-type]
    if inputs:
        raise ValueError(
            f"allocator: expected one taking scores or {MEAN_VARIANCE_INPUTS}, got "
            f"{type(allocator).__name__} taking {inputs}"
        )
    return ScoreHead(n_features, allocator)


class AllocationNetwork(nn.Module):
    """``weights = head(body(x), x)``.

    Parameters
    ----------
    body
        Module mapping x (batch, channel, asset, lookback) to (batch, feature, asset).
    head
        Module mapping (features, x) to weights (batch, asset).
    """

    def __init__(self, body: nn.Module, head: nn.Module):
        super().__init__()
        self.body, self.head = body, head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Windows (batch, channel, asset, lookback) -> weights (batch, asset)."""
        check_ndim("x", x, 4, "batch, channel, asset, lookback")
        out: torch.Tensor = self.head(self.body(x), x)
        return out
