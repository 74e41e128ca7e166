"""What a suite compares: networks trained afresh on every fold, and fixed rules."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from deepalloc.baselines import EqualWeight
from deepalloc.losses import Loss

EQUAL_WEIGHT = "equal_weight"
"""The name of the equal-weight baseline every suite includes."""


@dataclass(frozen=True)
class SequentialTraining:
    """Train on contiguous runs of decisions along their after-cost path (see
    :class:`~deepalloc.data.SequentialLoader`): the network pays for every trade in the
    loss, and a holdings-aware network sees what it holds.

    Attributes
    ----------
    run_length
        Decisions per run.
    stride
        Samples between decisions (``None``: the windows' horizon, so that a decision is
        held over its target, about the backtest's rebalancing interval).
    costs_bps
        Proportional cost of every trade in training, basis points.
    truncate_every
        Backpropagate through at most this many consecutive decisions (``None``: the run).
    batch_size
        Runs per optimizer step.
    """

    run_length: int = 12
    stride: int | None = None
    costs_bps: float = 0.0
    truncate_every: int | None = None
    batch_size: int = 8


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
    sequential
        Train sequentially on the after-cost path instead of on independent windows
        (:class:`SequentialTraining`); the loss then scores each run's path.
    """

    name: str
    build: Callable[[int, int, int], nn.Module]
    loss: Loss
    fit_options: dict[str, Any] = field(default_factory=dict)
    sequential: SequentialTraining | None = None


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


def with_equal_weight(strategies: Sequence[Strategy]) -> list[Strategy]:
    """The strategies, checked (unique names without ``:``), with equal weight added when
    absent: every suite compares with it."""
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies: expected unique names, got {names}")
    reserved = [n for n in names if ":" in n]
    if reserved:
        raise ValueError(f"strategies: expected names without ':' (it marks seeds), got {reserved}")
    out = list(strategies)
    if EQUAL_WEIGHT not in names:
        out.append(BaselineStrategy(EQUAL_WEIGHT, EqualWeight()))
    return out
