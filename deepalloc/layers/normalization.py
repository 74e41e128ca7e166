"""Normalisation of each series over time."""

from __future__ import annotations

import torch
from torch import nn

from deepalloc._checks import check_ndim


class InstanceNorm(nn.Module):
    """Standardise each (sample, channel, asset) series over time.

    Parameters
    ----------
    n_channels
        Channels, for the optional per-channel affine transform.
    affine
        Learn a scale and shift per channel after standardising.
    eps
        Added to the variance.
    """

    def __init__(self, n_channels: int | None = None, *, affine: bool = False, eps: float = 1e-5):
        super().__init__()
        if affine and n_channels is None:
            raise ValueError(
                "n_channels: expected the number of channels for affine=True, got None"
            )
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(n_channels or 1)) if affine else None
        self.bias = nn.Parameter(torch.zeros(n_channels or 1)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> same shape."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        # mean of the squared deviations rather than ``x.var``: the same value up to
        # rounding, and several times cheaper (``var`` runs a Welford loop per series)
        # on a contiguous copy: reductions over a strided view (windows cut from one
        # long series) sum in another order, and a saved model would not reproduce the
        # suite's weights bit for bit
        x = x.contiguous()
        centred = x - x.mean(-1, keepdim=True)
        out = centred * torch.rsqrt(centred.square().mean(-1, keepdim=True) + self.eps)
        if self.weight is not None and self.bias is not None:
            out = out * self.weight[:, None, None] + self.bias[:, None, None]
        return out
