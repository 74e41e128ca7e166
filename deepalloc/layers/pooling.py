"""Collapse the time axis: (batch, channel, asset, time) -> (batch, channel, asset)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepalloc._checks import check_choice, check_ndim


class TimePool(nn.Module):
    """Pool over time.

    Parameters
    ----------
    mode
        ``"last"`` (the last step), ``"mean"``, ``"max"``, ``"attention"`` (softmax
        weights over time from a learned linear score of the channels, needs
        ``n_channels``), or ``"exp_decay"`` (weights ``exp(-rate * age)`` normalised,
        with a learnable ``rate = softplus(raw)`` that receives gradients).
    n_channels
        Channels of the input (for ``"attention"``).
    initial_rate
        Starting decay rate per step for ``"exp_decay"``.
    """

    def __init__(
        self, mode: str = "last", *, n_channels: int | None = None, initial_rate: float = 0.1
    ):
        super().__init__()
        check_choice("mode", mode, ("last", "mean", "max", "attention", "exp_decay"))
        self.mode = mode
        if mode == "attention":
            if n_channels is None:
                raise ValueError(
                    "n_channels: expected the number of channels for attention, got None"
                )
            self.score = nn.Linear(n_channels, 1)
        if mode == "exp_decay":
            # softplus^-1(initial_rate)
            self.raw_rate = nn.Parameter(torch.tensor(float(initial_rate)).expm1().log())

    @property
    def rate(self) -> torch.Tensor:
        """Decay rate per step (``"exp_decay"`` only)."""
        return F.softplus(self.raw_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, channel, asset)."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        if self.mode == "last":
            return x[..., -1]
        if self.mode == "mean":
            return x.mean(-1)
        if self.mode == "max":
            return x.amax(-1)
        if self.mode == "attention":
            logits = self.score(x.permute(0, 2, 3, 1)).squeeze(-1)  # (batch, asset, time)
            weights = torch.softmax(logits, dim=-1)
            return torch.einsum("bcat,bat->bca", x, weights)
        age = torch.arange(x.shape[-1] - 1, -1, -1, dtype=x.dtype, device=x.device)
        weights = torch.softmax(-self.rate.to(x.dtype) * age, dim=0)
        return (x * weights).sum(-1)
