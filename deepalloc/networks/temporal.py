"""Temporal-convolution designs: a TCN per asset (shared kernels), then the last step.

Much cheaper to train than the recurrent designs (every time step is computed at once),
with a receptive field of ``1 + 2 (k - 1) (2^L - 1)`` steps for ``L`` blocks of kernel
``k``: 61 steps for the default four blocks of kernel 3, 125 with five.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from deepalloc._channels import ChannelSpec
from deepalloc.allocators import MarkowitzAllocator, SoftmaxAllocator
from deepalloc.layers import InstanceNorm, LastStepTCN
from deepalloc.networks.heads import (
    AllocationNetwork,
    MeanVarianceHead,
    default_covariance,
    make_head,
)


class TCNNet(AllocationNetwork):
    """Normalised windows -> temporal convolution network per asset -> last time step ->
    one score per asset -> allocator (softmax by default).

    Parameters
    ----------
    n_channels
        Channels of x.
    channels
        Output channels of each residual block (block ``i`` has dilation ``2^i``).
    kernel_size, dropout
        Of the temporal blocks.
    allocator
        Any allocator of scores, or one taking ``(mu, cov_sqrt, gamma, alpha)``.
    holdings_aware
        Feed the portfolio held before each decision to the head (see
        :class:`~deepalloc.networks.AllocationNetwork`).
    """

    def __init__(
        self,
        n_channels: int,
        *,
        channels: Sequence[int] = (16, 16, 16, 16),
        kernel_size: int = 3,
        dropout: float = 0.0,
        allocator: nn.Module | None = None,
        holdings_aware: bool = False,
    ):
        # the head reads the last step only, so only what it reads is computed
        tcn = LastStepTCN(n_channels, channels, kernel_size=kernel_size, dropout=dropout)
        body = nn.Sequential(InstanceNorm(), tcn)
        super().__init__(
            body,
            make_head(
                allocator or SoftmaxAllocator(), tcn.out_channels, holdings_aware=holdings_aware
            ),
        )


class TCNMarkowitzNet(TCNNet):
    """TCN features give expected returns; the covariance estimator gives the risk
    model; ``MarkowitzAllocator`` turns them into weights with a learned risk aversion.

    Parameters
    ----------
    n_channels
        Channels of x; channel ``returns_channel`` holds returns for the covariance.
    channels, kernel_size, dropout
        Of the temporal blocks.
    max_weight
        Cap of the default allocator.
    covariance
        Covariance estimator (default: :func:`~deepalloc.networks.default_covariance`).
    allocator
        Must take ``(mu, cov_sqrt, gamma, alpha)`` (default ``MarkowitzAllocator``).
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
        channels: Sequence[int] = (16, 16, 16, 16),
        kernel_size: int = 3,
        dropout: float = 0.0,
        max_weight: float = 1.0,
        returns_channel: ChannelSpec = None,
        covariance: nn.Module | None = None,
        allocator: nn.Module | None = None,
        holdings_aware: bool = False,
        predict_kappa: bool = False,
    ):
        super().__init__(
            n_channels,
            channels=channels,
            kernel_size=kernel_size,
            dropout=dropout,
            allocator=allocator or MarkowitzAllocator(max_weight=max_weight),
            holdings_aware=holdings_aware,
        )
        if not isinstance(self.head, MeanVarianceHead):
            raise ValueError("allocator: expected one taking (mu, cov_sqrt, gamma, alpha)")
        self.head.covariance = covariance or default_covariance(returns_channel)
        if predict_kappa:
            self.head.use_predicted_kappa()
