"""Recurrent designs: a shared RNN/LSTM/GRU per asset, then pooling over time, and
the same with a transformer across assets."""

from __future__ import annotations

from typing import Literal

from torch import nn

from deepalloc._channels import ChannelSpec
from deepalloc._checks import check_choice
from deepalloc.allocators import MarkowitzAllocator, SoftmaxAllocator
from deepalloc.layers import AssetRNN, CrossAssetAttention, InstanceNorm, TimePool
from deepalloc.layers.pooling import POOL_MODES
from deepalloc.networks.heads import (
    AllocationNetwork,
    MeanVarianceHead,
    default_covariance,
    make_head,
)


class RecurrentNet(AllocationNetwork):
    """A recurrent design: a shared RNN/LSTM/GRU per asset, then pooling over time.

    Works for any lookback and any number of assets. Subclasses set the defaults of
    ``cell``, ``num_layers`` and ``dropout``.
    """

    cell: Literal["lstm", "gru", "rnn"] = "lstm"
    default_layers = 1
    default_dropout = 0.0

    def __init__(
        self,
        n_channels: int,
        *,
        hidden_size: int = 32,
        cell: Literal["lstm", "gru", "rnn"] | None = None,
        num_layers: int | None = None,
        bidirectional: bool = False,
        dropout: float | None = None,
        pool: Literal["last", "mean", "max", "attention", "exp_decay"] = "last",
        allocator: nn.Module | None = None,
        holdings_aware: bool = False,
    ):
        check_choice("pool", pool, POOL_MODES)  # the user's name for TimePool's mode
        rnn = AssetRNN(
            n_channels,
            hidden_size,
            cell=cell or self.cell,
            num_layers=num_layers or self.default_layers,
            bidirectional=bidirectional,
            dropout=self.default_dropout if dropout is None else dropout,
        )
        body = nn.Sequential(InstanceNorm(), rnn, TimePool(pool, n_channels=rnn.out_channels))
        super().__init__(
            body,
            make_head(
                allocator or self.default_allocator(),
                rnn.out_channels,
                holdings_aware=holdings_aware,
            ),
        )

    def default_allocator(self) -> nn.Module:
        """The allocator used when none is given."""
        return SoftmaxAllocator()


class LSTMNet(RecurrentNet):
    """The recurrent design with one LSTM layer."""


class GRUNet(RecurrentNet):
    """Stacked GRU layers (two by default)."""

    cell: Literal["lstm", "gru", "rnn"] = "gru"
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
    holdings_aware
        Feed the portfolio held before each decision to the head and the allocator.
    predict_kappa
        Predict the allocator's trading-cost rate per sample and asset
        (:class:`~deepalloc.networks.CostRateHead`, starting at the allocator's
        ``kappa``); needs ``holdings_aware`` and an allocator with ``trading_cost``.
    """

    def __init__(
        self,
        n_channels: int,
        *,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        pool: Literal["last", "mean", "max", "attention", "exp_decay"] = "last",
        max_weight: float = 1.0,
        returns_channel: ChannelSpec = None,
        covariance: nn.Module | None = None,
        allocator: nn.Module | None = None,
        holdings_aware: bool = False,
        predict_kappa: bool = False,
    ):
        super().__init__(
            n_channels,
            hidden_size=hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            pool=pool,
            allocator=allocator or MarkowitzAllocator(max_weight=max_weight),
            holdings_aware=holdings_aware,
        )
        if not isinstance(self.head, MeanVarianceHead):
            raise ValueError("allocator: expected one taking (mu, cov_sqrt, gamma, alpha)")
        self.head.covariance = covariance or default_covariance(returns_channel)
        if predict_kappa:
            self.head.use_predicted_kappa()


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
        holdings_aware: bool = False,
    ):
        rnn = AssetRNN(n_channels, hidden_size)
        body = nn.Sequential(
            InstanceNorm(),
            rnn,
            TimePool("last"),
            CrossAssetAttention(rnn.out_channels, d_model, n_heads, n_layers),
        )
        super().__init__(
            body, make_head(allocator or SoftmaxAllocator(), d_model, holdings_aware=holdings_aware)
        )
