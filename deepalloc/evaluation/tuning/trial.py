"""One trial of a search: train a configuration on a fold's training block and report its
inner validation score to Ray Tune after every epoch.

A trial runs in a Ray worker. It receives a :class:`TrialData` (through the object
store) holding the returns rows before the outer fold's cutoff and no others (see
:mod:`~deepalloc.evaluation.tuning.nested`), and the configuration Ray Tune sampled.
It trains exactly as a suite's fold trains a network (:func:`~deepalloc.evaluation.folds.train_network`),
with the fold's first training seed, so that trials differ only by their configuration.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from deepalloc.evaluation.folds import fold_threads, train_network
from deepalloc.evaluation.strategies import NetworkStrategy
from deepalloc.evaluation.tuning.nested import (
    NestedFold,
    WindowSettings,
    inner_blocks,
    trial_windows,
)
from deepalloc.training import Callback, Run

NetworkFactory = Callable[[Mapping[str, Any]], NetworkStrategy]
"""``network(config) -> NetworkStrategy``: the strategy of one configuration (it must
pickle: a module-level function or an object of a module-level class)."""


class ReportToTune(Callback):
    """Report the validation ``metric`` (lower is better) to Ray Tune after every epoch,
    so that its scheduler (ASHA) can stop a bad trial early."""

    def __init__(self, metric: str):
        self.metric = metric

    def on_epoch_end(self, run: Run) -> None:
        from ray import tune

        if self.metric not in run.scores:
            raise ValueError(
                f"metric: expected one of the validation metrics {sorted(run.scores)}, "
                f"got {self.metric!r}"
            )
        score = run.scores[self.metric]
        tune.report(
            {self.metric: score if math.isfinite(score) else math.inf, "epoch": run.state.epoch}
        )


@dataclass(frozen=True)
class TrialData:
    """Everything a trial of one outer fold gets.

    Attributes
    ----------
    frame
        The returns rows before the fold's cutoff (``NestedFold.frame``), no others.
    fold
        The fold's inner blocks by dates (its test dates removed).
    network
        Builds the strategy of a configuration.
    windows
        How to cut windows (its lookback serves when the lookback is not searched).
    seed
        Training seed of every trial of the fold.
    metric
        Validation metric reported to Ray Tune.
    threads
        Torch and BLAS threads of a trial.
    callbacks
        Training callbacks added to every trial (they must pickle).
    """

    frame: pd.DataFrame
    fold: NestedFold
    network: NetworkFactory
    windows: WindowSettings
    seed: int
    metric: str
    threads: int | None
    callbacks: Sequence[object] = field(default_factory=tuple)


def run_trial(config: dict[str, Any], data: TrialData) -> None:
    """Train one configuration on the fold's training block, reporting its inner
    validation score every epoch (the function Ray Tune runs)."""
    lookback = int(config.get("lookback", data.windows.lookback))
    strategy = data.network(config)
    strategy.fit_options["progress"] = False
    windows = trial_windows(data.frame, dataclasses.replace(data.windows, lookback=lookback))
    train, val = inner_blocks(windows, data.fold)
    assert windows is not None  # inner_blocks raises otherwise
    with fold_threads(data.threads):
        train_network(
            strategy,
            windows,
            train,
            val,
            data.seed,
            callbacks=[*data.callbacks, ReportToTune(data.metric)],
        )


__all__ = ["NetworkFactory", "ReportToTune", "TrialData", "run_trial"]
