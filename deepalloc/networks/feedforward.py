"""Feed-forward designs: a dense network and an asset-wise convolutional network."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from deepalloc.allocators import SoftmaxAllocator
from deepalloc.layers import AssetConv, Dense, InstanceNorm
from deepalloc.networks.heads import AllocationNetwork, make_head


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
        holdings_aware: bool = False,
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
        super().__init__(
            body,
            make_head(allocator or SoftmaxAllocator(), hidden[-1], holdings_aware=holdings_aware),
        )


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
        holdings_aware: bool = False,
    ):
        body = nn.Sequential(
            InstanceNorm(),
            AssetConv(n_channels, conv_channels, kernel_size, dilation=dilation, pool=pool),
            Dense(1, lookback, hidden, hidden=()),
            nn.ReLU(),
        )
        super().__init__(
            body, make_head(allocator or SoftmaxAllocator(), hidden, holdings_aware=holdings_aware)
        )
