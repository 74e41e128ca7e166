"""What a training run holds, as the callbacks see it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from deepalloc.data import SequentialLoader, WindowLoader


class TrainingError(RuntimeError):
    """Training cannot go on: a batch failed under the ``"raise"`` policy, every batch of
    an epoch was skipped, or the validation metric was never finite."""


@dataclass
class TrainingState:
    """The loop's own progress, saved in checkpoints.

    Attributes
    ----------
    epoch
        Last completed epoch (0 before the first).
    rows
        History rows ``{"epoch", "split", "metric", "value"}``.
    skipped
        Batches skipped under the ``"skip"`` failure policy, over all epochs.
    """

    epoch: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: int = 0


@dataclass
class Run:
    """A training run: what :func:`~deepalloc.training.fit` drives and callbacks read.

    Callbacks may read every attribute, set ``stop = True`` to end training after the
    current epoch, and change the network or optimizer as they see fit.

    Attributes
    ----------
    network, optimizer, scheduler
        The model being trained, its optimizer and its learning-rate scheduler (or None).
    train_loader, val_loader
        The loaders (``val_loader`` may be None).
    epochs
        Most epochs to run.
    callbacks
        Every callback of the run, built-in early stopping first.
    state
        :class:`TrainingState`.
    scores
        Validation metrics of the last epoch (empty without validation).
    stop
        Set by a callback to stop after the current epoch.
    """

    network: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    train_loader: WindowLoader | SequentialLoader
    val_loader: WindowLoader | SequentialLoader | None
    epochs: int
    callbacks: list[Any] = field(default_factory=list)
    state: TrainingState = field(default_factory=TrainingState)
    scores: dict[str, float] = field(default_factory=dict)
    stop: bool = False

    def record(self, split: str, values: dict[str, float]) -> None:
        """Append history rows for the current epoch."""
        epoch = self.state.epoch
        self.state.rows += [
            {"epoch": epoch, "split": split, "metric": k, "value": float(v)}
            for k, v in values.items()
        ]

    def last(self, split: str, metric: str) -> float:
        """The latest recorded value of ``metric`` in ``split`` (NaN if none)."""
        for row in reversed(self.state.rows):
            if row["split"] == split and row["metric"] == metric:
                return float(row["value"])
        return math.nan
