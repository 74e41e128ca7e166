"""Allocators onto the simplex without a solver: softmax, sparsemax, normalized tanh.

Each is an ``nn.Module`` taking scores (batch, asset) and returning weights
(batch, asset) in the scores' dtype and device.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from deepalloc._checks import check_feasible_cap, check_finite, check_ndim, check_positive_int
from deepalloc._recording import Recorded
from deepalloc.functional.simplex import capped_softmax, normalized_tanh, sparsemax


def _scores(scores: torch.Tensor) -> torch.Tensor:
    """Check scores: (batch, asset), finite."""
    check_ndim("scores", scores, 2, "batch, asset")
    check_finite("scores", scores)
    return scores


class _TemperatureAllocator(Recorded, nn.Module):
    """Shared temperature handling: fixed, learnable, or given per sample."""

    def __init__(
        self, temperature: float | Literal["learnable"] = 1.0, max_weight: float | None = None
    ):
        super().__init__()
        if max_weight is not None and not 0 < max_weight <= 1:
            raise ValueError(f"max_weight: expected a value in (0, 1], got {max_weight}")
        self.max_weight = max_weight
        if temperature == "learnable":
            self.log_temperature: nn.Parameter | None = nn.Parameter(torch.zeros(()))
            self.temperature = 1.0
        elif (
            isinstance(temperature, int | float)
            and not isinstance(temperature, bool)
            and math.isfinite(temperature)
            and temperature > 0
        ):
            self.log_temperature = None
            self.temperature = float(temperature)
        else:
            raise ValueError(
                f"temperature: expected a positive number or 'learnable', got {temperature!r}"
            )

    def _scaled(self, scores: torch.Tensor, temperature: torch.Tensor | None) -> torch.Tensor:
        _scores(scores)
        if temperature is not None:
            t = temperature.to(scores).reshape(-1, 1)
            if t.shape[0] not in (1, scores.shape[0]):
                raise ValueError(
                    f"temperature: expected shape (batch,) = ({scores.shape[0]},), got "
                    f"{tuple(temperature.shape)}"
                )
            if not bool((t > 0).all()):  # also catches NaN
                bad = torch.nonzero(~(t.detach() > 0).flatten()).flatten().tolist()
                raise ValueError(
                    f"temperature: expected positive values, got a non-positive or NaN one "
                    f"in samples {bad[:10]}"
                )
        elif self.log_temperature is not None:
            t = self.log_temperature.exp().to(scores.dtype)
        else:
            t = torch.tensor(self.temperature, dtype=scores.dtype, device=scores.device)
        if self.max_weight is not None:
            check_feasible_cap(scores.shape[1], self.max_weight)
        return scores / t


class SoftmaxAllocator(_TemperatureAllocator):
    """Softmax of scores over assets, optionally capped at ``max_weight`` in closed form.

    Parameters
    ----------
    temperature
        A positive float, or ``"learnable"`` (a parameter, initialised at 1). A
        per-sample temperature (batch,) can also be passed to ``forward``.
    max_weight
        Cap on every weight; ``None`` for none. The capped solution is exact (see
        :func:`deepalloc.functional.simplex.capped_softmax`).
    """

    def forward(
        self, scores: torch.Tensor, temperature: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores (batch, asset) -> weights (batch, asset)."""
        z = self._scaled(scores, temperature)
        if self.max_weight is None or self.max_weight >= 1:
            return torch.softmax(z, dim=-1)
        return capped_softmax(z, self.max_weight)


class SparsemaxAllocator(_TemperatureAllocator):
    """Euclidean projection of scores onto the (capped) simplex: sparse weights.

    Parameters are as for :class:`SoftmaxAllocator`.
    """

    def forward(
        self, scores: torch.Tensor, temperature: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Scores (batch, asset) -> weights (batch, asset)."""
        z = self._scaled(scores, temperature)
        return sparsemax(z, 1.0 if self.max_weight is None else self.max_weight)


class TanhAllocator(Recorded, nn.Module):
    """Long-short weights by normalized tanh (see :func:`deepalloc.functional.simplex.normalized_tanh`).

    Parameters
    ----------
    net
        Net exposure target (``0`` dollar neutral, ``1`` fully invested); ``None``
        leaves it free.
    gross
        Gross exposure ``sum |w|``.
    """

    def __init__(self, net: float | None = None, gross: float = 1.0):
        super().__init__()
        if not (math.isfinite(gross) and gross > 0):
            raise ValueError(f"gross: expected a positive gross exposure, got {gross}")
        if net is not None and not math.isfinite(net):
            raise ValueError(f"net: expected a finite net exposure or None, got {net}")
        if net is not None and gross < abs(net):
            raise ValueError(f"gross: expected gross exposure >= |net| = {abs(net)}, got {gross}")
        self.net, self.gross = net, gross

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (batch, asset) -> weights (batch, asset)."""
        return normalized_tanh(_scores(scores), net=self.net, gross=self.gross)


class WeightNorm(Recorded, nn.Module):
    """Learned static weights, the same for every sample: ``softmax(logits)``.

    Parameters
    ----------
    n_assets
        Number of assets; the logits start at zero (equal weight).
    """

    def __init__(self, n_assets: int):
        super().__init__()
        check_positive_int("n_assets", n_assets)
        self.logits = nn.Parameter(torch.zeros(n_assets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any tensor with a leading batch axis -> weights (batch, n_assets), in x's dtype.

        Only x's batch size, dtype and device are used (so its values are not checked);
        the dtype must be floating point (weights in an integer dtype would be truncated).
        """
        if not torch.is_floating_point(x):
            raise TypeError(f"x (scores): expected a floating-point tensor, got dtype {x.dtype}")
        w = torch.softmax(self.logits, dim=0).to(device=x.device, dtype=x.dtype)
        return w.expand(x.shape[0], -1)


class EqualWeightAllocator(Recorded, nn.Module):
    """``1 / n_assets`` for every asset, whatever the (finite) scores."""

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """Scores (batch, asset) -> weights (batch, asset)."""
        _scores(scores)
        return torch.full_like(scores, 1.0 / scores.shape[1]) + 0 * scores
