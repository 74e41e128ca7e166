"""Shape aliases and protocols shared by every layer.

Axes are always named ``batch, channel, asset, lookback|horizon``
(:ref:`conventions-shapes`).
"""

from __future__ import annotations

from typing import Literal, Protocol, TypeAlias

import torch

ReturnsKind: TypeAlias = Literal["simple", "log"]
"""How asset returns are expressed: simple ``p_t / p_{t-1} - 1`` or log ``ln(p_t / p_{t-1})``."""

Features: TypeAlias = torch.Tensor
"""Input windows, shape (batch, channel, asset, lookback)."""

Targets: TypeAlias = torch.Tensor
"""Future values, shape (batch, channel, asset, horizon)."""

Weights: TypeAlias = torch.Tensor
"""Portfolio weights, shape (batch, asset)."""

PerSample: TypeAlias = torch.Tensor
"""One value per sample, shape (batch,)."""


class WeightFn(Protocol):
    """Anything that maps input windows to portfolio weights.

    Networks and baselines both satisfy it: ``weights = fn(x)`` with ``x`` of shape
    (batch, channel, asset, lookback) and ``weights`` of shape (batch, asset).
    """

    def __call__(self, x: Features) -> Weights: ...
