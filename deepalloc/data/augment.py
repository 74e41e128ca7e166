"""Augmentations of input windows x, shape (batch, channel, asset, lookback).

Each is a callable ``augment(x, generator) -> x`` that draws from the given
``torch.Generator`` only; pass them to :class:`~deepalloc.data.WindowLoader` (they never
touch y).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from deepalloc.data.dataset import Augment


def _check_probability(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1), got {value}")


class GaussianNoise:
    """Add noise whose standard deviation is ``scale`` times each series' own std.

    The std is taken over the lookback of each (sample, channel, asset) series, so the
    noise is proportional to the data whatever its units.
    """

    def __init__(self, scale: float = 0.1):
        if scale < 0:
            raise ValueError(f"scale: expected a non-negative value, got {scale}")
        self.scale = scale

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        std = x.std(-1, keepdim=True, correction=0) if x.shape[-1] > 1 else x.abs()
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device="cpu")
        return x + self.scale * std * noise.to(x.device)


class Dropout:
    """Set each element to zero with probability ``p`` (no rescaling)."""

    def __init__(self, p: float = 0.1):
        _check_probability("p", p)
        self.p = p

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        keep = torch.rand(x.shape, generator=generator, device="cpu") >= self.p
        return x * keep.to(x.device, x.dtype)


class MultiplicativeScaling:
    """Multiply each (sample, channel, asset) series by a factor drawn in ``[low, high]``."""

    def __init__(self, low: float = 0.9, high: float = 1.1):
        if not low <= high:
            raise ValueError(f"low, high: expected low <= high, got {low} > {high}")
        self.low, self.high = low, high

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        u = torch.rand((*x.shape[:-1], 1), generator=generator, dtype=x.dtype, device="cpu")
        return x * (self.low + (self.high - self.low) * u).to(x.device)


class Compose:
    """Apply several augmentations in order."""

    def __init__(self, augments: Sequence[Augment]):
        self.augments = list(augments)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for augment in self.augments:
            x = augment(x, generator)
        return x
