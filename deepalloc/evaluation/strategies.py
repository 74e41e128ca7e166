"""What a suite compares: networks trained afresh on every fold, and fixed rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from deepalloc.losses import Loss

EQUAL_WEIGHT = "equal_weight"
"""The name of the equal-weight baseline every suite includes."""


@dataclass
class NetworkStrategy:
    """A network trained afresh on every fold (and for every seed).

    Attributes
    ----------
    name
        Label in tables and plots.
    build
        ``build(n_channels, n_assets, lookback) -> nn.Module``, called once per fold
        and seed, under a seeded fork of the global generator (so initial weights are
        reproducible and the caller's generator is untouched).
    loss
        Training loss.
    fit_options
        Keyword arguments of :func:`deepalloc.training.fit` (``epochs``,
        ``optimizer``, ``early_stopping``, ``callbacks``, ...), copied afresh for every
        fold; ``batch_size`` sets the training batch size.
    """

    name: str
    build: Callable[[int, int, int], nn.Module]
    loss: Loss
    fit_options: dict[str, Any] = field(default_factory=dict)


@dataclass
class BaselineStrategy:
    """A rule that is not trained (a baseline or any fixed ``x -> weights`` module)."""

    name: str
    rule: nn.Module


Strategy = NetworkStrategy | BaselineStrategy
"""Anything a suite compares: a network trained per fold or a fixed rule."""


def seed_run_name(name: str, seed_index: int, seeds: int) -> str:
    """The name of one seed's run of a network: ``name`` alone with one seed, else
    ``name:seed<k>``."""
    return name if seeds == 1 else f"{name}:seed{seed_index}"


def ensemble_name(name: str) -> str:
    """The name of a network's ensemble (weights averaged across seeds)."""
    return f"{name}:ensemble"
