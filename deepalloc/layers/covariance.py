"""Differentiable covariance estimation over the lookback, with shrinkage and roots."""

from __future__ import annotations

import torch
from torch import nn

from deepalloc._channels import ChannelSpec, ReadsReturns
from deepalloc._checks import check_choice, check_ndim
from deepalloc._recording import Recorded
from deepalloc.functional.risk import SHRINK_TARGETS, matrix_sqrt, shrunk_covariance


class CovarianceEstimator(ReadsReturns, Recorded, nn.Module):
    """Sample covariance of each sample's window, optionally shrunk, optionally rooted.

    Parameters
    ----------
    shrinkage
        ``None``, or a target: ``"diagonal"``, ``"identity"``, ``"constant_correlation"``.
    intensity
        Shrinkage intensity in [0, 1], or ``"ledoit_wolf"`` for the Ledoit-Wolf
        optimal intensity of each sample.
    output
        ``"sqrt"`` (default): a root ``S`` with ``S' S = covariance`` (for the
        Markowitz allocators); ``"covariance"``.
    sqrt_method
        ``"eigh"`` (symmetric root) or ``"cholesky"``.
    jitter
        Relative diagonal jitter added before the root, for near-singular windows
        (fewer steps than assets).
    returns_channel
        Which channel of a 4-d input holds returns: an index, a name, or ``None`` (the
        only channel, else the one named ``"returns"``; see :mod:`deepalloc._channels`).
    """

    def __init__(
        self,
        shrinkage: str | None = None,
        intensity: float | str = "ledoit_wolf",
        *,
        output: str = "sqrt",
        sqrt_method: str = "eigh",
        jitter: float = 1e-6,
        returns_channel: ChannelSpec = None,
    ):
        super().__init__()
        if shrinkage is not None:
            check_choice("shrinkage", shrinkage, SHRINK_TARGETS)
        if isinstance(intensity, str):
            check_choice("intensity", intensity, ("ledoit_wolf",))
        elif not 0.0 <= intensity <= 1.0:
            raise ValueError(f"intensity: expected a value in [0, 1], got {intensity}")
        check_choice("output", output, ("sqrt", "covariance"))
        self.shrinkage, self.intensity, self.output = shrinkage, intensity, output
        self.sqrt_method, self.jitter, self.returns_channel = sqrt_method, jitter, returns_channel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Returns (batch, asset, time) or windows (batch, channel, asset, time) -> (batch, asset, asset)."""
        if x.ndim == 4:
            x = x[:, self.channel_index(x.shape[1])]
        check_ndim("x", x, 3, "batch, asset, time")
        cov = shrunk_covariance(x, self.shrinkage, self.intensity)
        if self.output == "covariance":
            return cov
        return matrix_sqrt(cov, method=self.sqrt_method, jitter=self.jitter)
