"""Asset-wise convolution: kernels over time only, shared by every asset."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from deepalloc._checks import check_choice, check_ndim


class AssetConv(nn.Module):
    """Convolution along time, the same kernel for every asset; assets never mix.

    The order of the asset axis is arbitrary, so a kernel spanning neighbouring assets
    would learn from an accident of column order; here each kernel is ``(1, k)``.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    kernel_size
        Length of the kernel along time.
    padding
        ``"same"`` (output keeps the lookback), ``"valid"``, or an int.
    dilation
        Dilation along time.
    pool
        Pooling across the output channels after a ReLU: ``"avg"`` (the thesis's
        choice) or ``"max"`` give one channel; ``None`` keeps all ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        padding: Literal["same", "valid"] | int = "same",
        dilation: int = 1,
        pool: Literal["avg", "max"] | None = None,
    ):
        super().__init__()
        if isinstance(padding, str):
            check_choice("padding", padding, ("same", "valid"))
        if pool is not None:
            check_choice("pool", pool, ("avg", "max"))
        pad: str | tuple[int, int] = padding if isinstance(padding, str) else (0, padding)
        self.conv = nn.Conv2d(
            in_channels, out_channels, (1, kernel_size), padding=pad, dilation=(1, dilation)
        )
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, out_channels or 1, asset, time')."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        h = torch.relu(self.conv(x))
        if self.pool == "avg":
            return h.mean(1, keepdim=True)
        if self.pool == "max":
            return h.amax(1, keepdim=True)
        return h
