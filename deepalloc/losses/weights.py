"""Losses on the weights alone (y is only checked, not used)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepalloc.functional import measures
from deepalloc.losses.base import Loss


@dataclass(repr=False, eq=False, kw_only=True)
class ConcentrationLoss(Loss):
    """Herfindahl-Hirschman index of the weights."""

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return measures.concentration(weights)


@dataclass(repr=False, eq=False, kw_only=True)
class LargestWeightLoss(Loss):
    """Largest absolute weight."""

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return measures.largest_weight(weights)


@dataclass(repr=False, eq=False, kw_only=True)
class TurnoverLoss(Loss):
    """Two-sided turnover ``sum |w - previous|``.

    With ``previous_weights`` (asset,) every sample is compared with that portfolio.
    Without it, each sample is compared with the previous sample of the batch (the
    first one scores 0), which measures trading when batches come in time order.
    """

    previous_weights: torch.Tensor | None = None

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.previous_weights is not None:
            return measures.turnover(weights, self.previous_weights.to(weights))
        previous = torch.cat([weights[:1], weights[:-1]], dim=0)
        return measures.turnover(weights, previous)
