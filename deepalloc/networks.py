"""Ready end-to-end allocation networks: a body of blocks plus an allocation head.

Every network maps windows x (batch, channel, asset, lookback) to weights
(batch, asset). The body turns x into per-asset features (batch, feature, asset); the
head turns features into weights with the allocator given:

- an allocator of scores (softmax, sparsemax, normalized tanh, ...) gets one linear
  score per asset (:class:`ScoreHead`);
- a mean-variance allocator (``MarkowitzAllocator``, or a ``ConvexAllocator`` with
  the ``mean_variance`` objective) gets expected returns from the features, a
  covariance square root estimated on the returns channel of x, and a learned risk
  aversion and L2 penalty (:class:`MeanVarianceHead`).

Networks built from asset-wise blocks only (all but the cross-sectional dense option)
accept a different number of assets at inference than in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepalloc._checks import check_ndim
from deepalloc.allocators import MarkowitzAllocator, SoftmaxAllocator
from deepalloc.layers import (
    AssetConv,
    AssetRNN,
    CovarianceEstimator,
    CrossAssetAttention,
    Dense,
    InstanceNorm,
    TimePool,
)

MEAN_VARIANCE_INPUTS = ("mu", "cov_sqrt", "gamma", "alpha")


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


def default_covariance(channel: int = 0) -> CovarianceEstimator:
    """The mean-variance heads' risk model: Ledoit-Wolf shrinkage toward the diagonal
    of the returns in ``channel``, Cholesky root (the allocator's ``||S w||^2`` needs a
    root, and every root gives the same weights, the triangular one cheapest)."""
    return CovarianceEstimator("diagonal", "ledoit_wolf", sqrt_method="cholesky", channel=channel)


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


class DenseNet(AllocationNetwork):
    """The dense design: an MLP over each asset's normalised window (shared by assets)."""

    def __init__(
        self,
        n_channels: int,
        lookback: int,
        *,
        hidden: Sequence[int] = (32, 16),
        activation: str = "relu",
        dropout: float = 0.0,
        allocator: nn.Module | None = None,
    ):
        body = nn.Sequential(
            InstanceNorm(),
            Dense(
                n_channels,
                lookback,
                hidden[-1],
                hidden=hidden[:-1],
                activation=activation,
                dropout=dropout,
            ),
            nn.ReLU(),
        )
        super().__init__(body, make_head(allocator or SoftmaxAllocator(), hidden[-1]))


class ConvNet(AllocationNetwork):
    """The convolutional design: asset-wise convolution over time, average pooling
    across its channels, then a dense layer over time per asset."""

    def __init__(
        self,
        n_channels: int,
        lookback: int,
        *,
        conv_channels: int = 16,
        kernel_size: int = 5,
        dilation: int = 1,
        hidden: int = 16,
        pool: str = "avg",
        allocator: nn.Module | None = None,
    ):
        body = nn.Sequential(
            InstanceNorm(),
            AssetConv(n_channels, conv_channels, kernel_size, dilation=dilation, pool=pool),
            Dense(1, lookback, hidden, hidden=()),
            nn.ReLU(),
        )
        super().__init__(body, make_head(allocator or SoftmaxAllocator(), hidden))


class RecurrentNet(AllocationNetwork):
    """A recurrent design: a shared RNN/LSTM/GRU per asset, then pooling over time.

    Works for any lookback and any number of assets. Subclasses set the defaults of
    ``cell``, ``num_layers`` and ``dropout``.
    """

    cell = "lstm"
    default_layers = 1
    default_dropout = 0.0

    def __init__(
        self,
        n_channels: int,
        *,
        hidden_size: int = 32,
        cell: str | None = None,
        num_layers: int | None = None,
        bidirectional: bool = False,
        dropout: float | None = None,
        pool: str = "last",
        allocator: nn.Module | None = None,
    ):
        rnn = AssetRNN(
            n_channels,
            hidden_size,
            cell=cell or self.cell,
            num_layers=num_layers or self.default_layers,
            bidirectional=bidirectional,
            dropout=self.default_dropout if dropout is None else dropout,
        )
        body = nn.Sequential(InstanceNorm(), rnn, TimePool(pool, n_channels=rnn.out_channels))
        super().__init__(body, make_head(allocator or self.default_allocator(), rnn.out_channels))

    def default_allocator(self) -> nn.Module:
        """The allocator used when none is given."""
        return SoftmaxAllocator()


class LSTMNet(RecurrentNet):
    """The recurrent design with one LSTM layer."""


class GRUNet(RecurrentNet):
    """Stacked GRU layers (two by default)."""

    cell = "gru"
    default_layers = 2


class StackedLSTMNet(RecurrentNet):
    """Stacked LSTM layers (two by default, dropout 0.1 between them)."""

    default_layers = 2
    default_dropout = 0.1


class LSTMMarkowitzNet(RecurrentNet):
    """LSTM features give expected returns; the covariance estimator gives the risk
    model (its square root); ``MarkowitzAllocator`` turns them into weights with a
    learned risk aversion.

    Parameters
    ----------
    n_channels
        Channels of x; channel ``returns_channel`` holds returns for the covariance.
    max_weight
        Cap of the default allocator.
    covariance
        Covariance estimator (default: :func:`default_covariance` of ``returns_channel``).
    hidden_size, num_layers, bidirectional, pool, allocator
        As for :class:`RecurrentNet`; the allocator must take ``(mu, cov_sqrt, gamma, alpha)``.
    """

    def __init__(
        self,
        n_channels: int,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        pool: str = "last",
        max_weight: float = 1.0,
        returns_channel: int = 0,
        covariance: nn.Module | None = None,
        allocator: nn.Module | None = None,
    ):
        super().__init__(
            n_channels,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            pool=pool,
            allocator=allocator or MarkowitzAllocator(max_weight=max_weight),
        )
        if not isinstance(self.head, MeanVarianceHead):
            raise ValueError("allocator: expected one taking (mu, cov_sqrt, gamma, alpha)")
        self.head.covariance = covariance or default_covariance(returns_channel)


class AttentionNet(AllocationNetwork):
    """Per-asset LSTM features, then a transformer encoder across assets."""

    def __init__(
        self,
        n_channels: int,
        *,
        hidden_size: int = 32,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 1,
        allocator: nn.Module | None = None,
    ):
        rnn = AssetRNN(n_channels, hidden_size)
        body = nn.Sequential(
            InstanceNorm(),
            rnn,
            TimePool("last"),
            CrossAssetAttention(rnn.out_channels, d_model, n_heads, n_layers),
        )
        super().__init__(body, make_head(allocator or SoftmaxAllocator(), d_model))
