"""The search of one outer fold on Ray Tune, and the table of its trials.

Each outer fold is one Ray Tune experiment, ``<storage>/fold-<k>``: trials sampled by
the search algorithm (random search, or Optuna's TPE with the ``optuna`` extra), run
by the scheduler (ASHA by default, which stops a trial whose inner validation score
trails at a rung), each on the resources given. Tune stores the experiment's state
there as it goes, so an interrupted search resumes from it: finished trials are kept,
unfinished ones run again from their first epoch, and the sampler goes on where it
stopped (the configurations are those of an uninterrupted search). ASHA's decisions
after the interruption may differ from an uninterrupted search's: the interrupted
trial's first epochs stay in its rungs, and the trial reports them again.

Reproducibility: the sampler is seeded, and every trial's training is seeded, so the
same search gives the same configurations and scores. ASHA's decisions depend on the
order in which results arrive; with one trial at a time (``max_concurrent_trials = 1``,
the default) that order is fixed, so the same search stops the same trials and makes
the same choice. With several trials at once, ASHA's decisions (and TPE's proposals)
depend on timing; random search with the FIFO scheduler stays reproducible at any
concurrency.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from deepalloc.evaluation.cluster import require
from deepalloc.evaluation.tuning.space import Space, to_ray
from deepalloc.evaluation.tuning.trial import TrialData, run_trial

log = logging.getLogger(__name__)

Scheduler = Literal["asha", "fifo"]
Algorithm = Literal["random", "tpe"]


class SearchInterrupted(KeyboardInterrupt):
    """A search stopped before all its trials finished (Ctrl-C); its state is saved and
    ``resume=True`` continues it."""


def _positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")


@dataclass(frozen=True)
class Search:
    """How a search runs.

    Attributes
    ----------
    num_samples
        Trials per outer fold (the configurations the deflated Sharpe ratio counts).
    scheduler
        ``"asha"`` (stop trials whose validation score trails, from ``grace_period``
        epochs on, keeping 1 in ``reduction_factor`` at each rung) or ``"fifo"`` (run
        every trial to the end).
    algorithm
        ``"random"`` (seeded random search) or ``"tpe"`` (Optuna's TPE, ``optuna``
        extra; its first 10 trials are random).
    metric
        The validation metric to minimise: ``"loss"`` (the training loss on the
        validation block) or a name in the strategy's ``fit_options["metrics"]``.
    cpus_per_trial
        CPUs Ray reserves for each trial (and its torch threads, at least 1).
    max_concurrent_trials
        Trials at once; 1 (default) keeps ASHA's and TPE's choices reproducible.
    grace_period, reduction_factor
        ASHA's settings.
    resume
        Continue the search stored in the storage folder (finished trials are kept).
    """

    num_samples: int = 8
    scheduler: Scheduler = "asha"
    algorithm: Algorithm = "random"
    metric: str = "loss"
    cpus_per_trial: float = 1.0
    max_concurrent_trials: int = 1
    grace_period: int = 1
    reduction_factor: float = 3.0
    resume: bool = False

    def __post_init__(self) -> None:
        _positive_int("num_samples", self.num_samples)
        _positive_int("max_concurrent_trials", self.max_concurrent_trials)
        _positive_int("grace_period", self.grace_period)
        if self.scheduler not in ("asha", "fifo"):
            raise ValueError(f"scheduler: expected 'asha' or 'fifo', got {self.scheduler!r}")
        if self.algorithm not in ("random", "tpe"):
            raise ValueError(f"algorithm: expected 'random' or 'tpe', got {self.algorithm!r}")
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"metric: expected a metric name, got {self.metric!r}")
        if not (isinstance(self.cpus_per_trial, int | float) and self.cpus_per_trial > 0):
            raise ValueError(
                f"cpus_per_trial: expected a positive number, got {self.cpus_per_trial!r}"
            )
        if not (isinstance(self.reduction_factor, int | float) and self.reduction_factor > 1):
            raise ValueError(
                f"reduction_factor: expected a number > 1, got {self.reduction_factor!r}"
            )

    @property
    def threads(self) -> int:
        """Torch and BLAS threads of a trial."""
        return max(1, math.floor(self.cpus_per_trial))

    def describe(self) -> str:
        """One line for reports."""
        scheduler = (
            f"ASHA (grace {self.grace_period}, reduction {self.reduction_factor:g})"
            if self.scheduler == "asha"
            else "FIFO"
        )
        algorithm = "random search" if self.algorithm == "random" else "Optuna TPE"
        return (
            f"{self.num_samples} trials per fold, {algorithm}, {scheduler}, minimising "
            f"validation {self.metric}, {self.max_concurrent_trials} at a time"
        )


def experiment_path(storage: str, fold: int) -> str:
    """Where the experiment of outer fold ``fold`` is stored."""
    return f"{storage.rstrip('/')}/fold-{fold:03d}"


def trial_dirname(trial: Any) -> str:
    """Folder of a trial: ``trial_<creation time in ns>_<id>``. Ray Tune names a trial's
    folder once, when the search algorithm creates it (a resumed search keeps the names),
    so the time numbers trials in the order they were created."""
    return f"trial_{time.time_ns()}_{trial.trial_id}"


_TRIAL_DIR = re.compile(r"trial_(\d+)_(\w+)$")


def _tuner(
    data: TrialData, space: Space, search: Search, storage: str, epochs: int, seed: int
) -> Any:
    tune = require("ray.tune", "tune")
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    trainable = tune.with_resources(
        tune.with_parameters(run_trial, data=data), {"cpu": search.cpus_per_trial}
    )
    path = experiment_path(storage, data.fold.index)
    if search.resume and tune.Tuner.can_restore(path):
        return tune.Tuner.restore(path, trainable, resume_unfinished=True, resume_errored=True)
    if search.algorithm == "tpe":
        require("optuna", "optuna")
        from ray.tune.search.optuna import OptunaSearch

        algorithm: Any = ConcurrencyLimiter(
            OptunaSearch(seed=seed), max_concurrent=search.max_concurrent_trials
        )
    else:
        algorithm = BasicVariantGenerator(
            random_state=seed, max_concurrent=search.max_concurrent_trials
        )
    scheduler = (
        ASHAScheduler(
            time_attr="training_iteration",
            max_t=epochs,
            grace_period=min(search.grace_period, epochs),
            reduction_factor=search.reduction_factor,
        )
        if search.scheduler == "asha"
        else FIFOScheduler()
    )
    return tune.Tuner(
        trainable,
        param_space=to_ray(space),
        tune_config=tune.TuneConfig(
            metric=search.metric,
            mode="min",
            num_samples=search.num_samples,
            scheduler=scheduler,
            search_alg=algorithm,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=Path(path).name, storage_path=storage, verbose=0, log_to_file=False
        ),
    )


def run_search(
    data: TrialData, space: Space, search: Search, *, storage: str, epochs: int, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Search the fold of ``data``: the table of its trials and their curves.

    Parameters
    ----------
    data
        What every trial of the fold gets.
    space
        The search space.
    search
        How to search.
    storage
        Folder (or URI) of the experiments; the fold's is ``<storage>/fold-<k>``.
    epochs
        Most epochs of a trial (ASHA's budget).
    seed
        Seed of the sampler.

    Returns
    -------
    trials : DataFrame
        One row per trial: ``fold, trial, trial_id``, the configuration (a column per
        parameter), ``score`` (the best validation ``metric`` over its epochs),
        ``best_epoch``, ``epochs`` (epochs trained before it finished or was stopped)
        and ``error`` (empty when none).
    curves : DataFrame
        ``fold, trial, epoch, score``: every reported validation score.

    Raises
    ------
    SearchInterrupted
        When the search was stopped (Ctrl-C) before every trial finished.
    """
    tuner = _tuner(data, space, search, storage, epochs, seed)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):  # Tune's console reporter prints
        results = tuner.fit()
    log.debug("Ray Tune output of fold %d:\n%s", data.fold.index, captured.getvalue())
    if results.num_terminated + results.num_errors < search.num_samples:
        raise SearchInterrupted(
            f"search of fold {data.fold.index} interrupted; its state is saved in "
            f"{experiment_path(storage, data.fold.index)}: resume it with resume = true"
        )
    return _tables(results, data.fold.index, search.metric, space)


def _tables(
    results: Any, fold: int, metric: str, space: Space
) -> tuple[pd.DataFrame, pd.DataFrame]:
    named = []
    for result in results:
        match = _TRIAL_DIR.search(str(result.path).rstrip("/"))
        if match is None:
            raise RuntimeError(f"trial folder {result.path!r}: expected trial_<time>_<id>")
        named.append((int(match[1]), match[2], result))
    rows, curves = [], []
    for number, (_, trial_id, result) in enumerate(sorted(named, key=lambda n: n[0])):
        history = result.metrics_dataframe
        scores = (
            pd.Series(dtype=float)
            if history is None or metric not in history
            else pd.Series(history[metric].to_numpy(float), index=history["epoch"].to_numpy(int))
        )
        finite = scores[scores.map(math.isfinite)]
        rows.append(
            {
                "fold": fold,
                "trial": number,
                "trial_id": trial_id,
                **{name: result.config.get(name) for name in space},
                "score": float(finite.min()) if len(finite) else math.nan,
                "best_epoch": int(finite.idxmin()) if len(finite) else 0,
                "epochs": int(scores.index.max()) if len(scores) else 0,
                "error": "" if result.error is None else str(result.error).strip().splitlines()[-1],
            }
        )
        curves += [
            {"fold": fold, "trial": number, "epoch": int(e), "score": float(s)}
            for e, s in scores.items()
        ]
    trials = pd.DataFrame(rows).sort_values("trial", ignore_index=True)
    curve = pd.DataFrame(curves, columns=["fold", "trial", "epoch", "score"])
    return trials, curve.sort_values(["trial", "epoch"], ignore_index=True)


def best_trial(trials: pd.DataFrame) -> pd.Series:
    """The trial with the lowest inner validation score (the first of equals).

    Raises
    ------
    RuntimeError
        When no trial has a finite score (naming the first error).
    """
    scored = trials[trials["score"].map(math.isfinite)]
    if scored.empty:
        errors = [e for e in trials["error"] if e]
        raise RuntimeError(
            f"search of fold {trials['fold'].iloc[0]}: expected a trial with a finite validation "
            f"score, got none of {len(trials)}" + (f"; first error: {errors[0]}" if errors else "")
        )
    return scored.sort_values(["score", "trial"], kind="stable").iloc[0]


__all__ = [
    "Algorithm",
    "Scheduler",
    "Search",
    "SearchInterrupted",
    "best_trial",
    "experiment_path",
    "run_search",
    "trial_dirname",
]
