"""``tune_suite``: hyper-parameter search on Ray Tune, nested inside the walk-forward.

For every outer walk-forward fold, Ray Tune samples configurations; each trial trains
on the fold's training block and is scored on its purged inner validation block only,
from a returns frame cut before the fold's test block (see
:mod:`~deepalloc.evaluation.tuning.nested`). The configuration with the best inner
score is retrained on the fold exactly as :func:`~deepalloc.evaluation.run_suite`
trains a network (same blocks, seeds and threads) and predicts the fold's test block,
which no trial ever saw. The tuned strategy and the baselines are then backtested
together, and the result counts the configurations tried, so that the deflated Sharpe
ratio of :meth:`~deepalloc.evaluation.SuiteResult.significance` discounts the search.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from deepalloc.baselines import EqualWeight
from deepalloc.data import Fold, Windows, make_windows
from deepalloc.evaluation.cluster import Cluster, ray_session, require
from deepalloc.evaluation.folds import FoldJob, FoldOutput, run_fold, training_seed
from deepalloc.evaluation.parallel import map_folds
from deepalloc.evaluation.results import SuiteResult
from deepalloc.evaluation.strategies import (
    EQUAL_WEIGHT,
    BaselineStrategy,
    NetworkStrategy,
    Strategy,
)
from deepalloc.evaluation.suites import assemble_suite
from deepalloc.evaluation.tuning.nested import (
    NestedFold,
    WindowSettings,
    nested_folds,
    retrain_fold,
)
from deepalloc.evaluation.tuning.search import Search, best_trial, run_search
from deepalloc.evaluation.tuning.space import Choice, Domain, RandInt, check_space, example
from deepalloc.evaluation.tuning.trial import NetworkFactory, TrialData


@dataclass
class TuneResult:
    """What :func:`tune_suite` returns.

    Attributes
    ----------
    suite
        The tuned strategy (named ``<network>_tuned``) against the baselines, as
        :func:`~deepalloc.evaluation.run_suite` returns it; ``configurations`` is the
        number of trials per fold.
    trials
        One row per (fold, trial): the configuration, ``score`` (best inner validation
        metric), ``best_epoch``, ``epochs`` trained (fewer when stopped early) and
        ``error``.
    chosen
        One row per fold: the chosen configuration (the trial with the best score).
    curves
        ``fold, trial, epoch, score``: every inner validation score reported.
    """

    suite: SuiteResult
    trials: pd.DataFrame
    chosen: pd.DataFrame
    curves: pd.DataFrame


def _lookbacks(space: Mapping[str, Domain], lookback: int) -> int:
    """The longest lookback of the search (checking a searched one)."""
    if "lookback" not in space:
        return lookback
    domain = space["lookback"]
    values = domain.extremes()
    if not isinstance(domain, Choice | RandInt) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values
    ):
        raise ValueError(
            f"space['lookback']: expected choice(...) or randint(...) of positive integers, "
            f"got {domain}"
        )
    return max(int(v) for v in values)


def _example_strategy(
    network: NetworkFactory, space: Mapping[str, Domain], search: Search
) -> tuple[NetworkStrategy, int]:
    """A strategy of the space (checked) and the epochs of a trial."""
    strategy = network(example(space))
    if not isinstance(strategy, NetworkStrategy):
        raise TypeError(
            f"network: expected a function of a configuration returning a NetworkStrategy, "
            f"got one returning {type(strategy).__name__}"
        )
    metrics = ["loss", *(strategy.fit_options.get("metrics") or {})]
    if search.metric not in metrics:
        raise ValueError(
            f"metric: expected one of the validation metrics {metrics}, got {search.metric!r}"
        )
    epochs = strategy.fit_options.get("epochs", 100)
    return strategy, int(epochs)


def _python(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (what Ray Tune gave the trial)."""
    return value.item() if hasattr(value, "item") else value


def _check_storage(storage: str, description: dict[str, Any], resume: bool) -> None:
    """Keep one search per storage folder: a new search needs a folder without one, and a
    resumed search the same description as the stored one."""
    if "://" in storage:
        return
    record = Path(storage) / "search.json"
    if record.exists():
        stored = json.loads(record.read_text())
        if not resume:
            raise ValueError(
                f"storage: expected a folder without a search for a new one, got {storage!r} "
                "holding one; resume it (resume=True) or choose another folder"
            )
        changed = sorted(
            k for k in description.keys() | stored.keys() if stored.get(k) != description.get(k)
        )
        if changed:
            raise ValueError(
                f"storage: expected the search stored in {storage!r} to resume, got one that "
                f"differs in {changed}; use another folder for a new search"
            )
        return
    Path(storage).mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps(description, indent=1, default=str))


def _search_folds(
    data: Sequence[TrialData],
    space: Mapping[str, Domain],
    search: Search,
    *,
    storage: str,
    epochs: int,
    seed: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Search every fold in turn: all trials, the chosen trial per fold (indexed by
    fold) and the validation curves."""
    tables, curves, best = [], [], []
    for fold in data:
        table, curve = run_search(fold, space, search, storage=storage, epochs=epochs, seed=seed)
        best.append(best_trial(table))  # fails at once when a fold has no scored trial
        tables.append(table)
        curves.append(curve)
    return (
        pd.concat(tables, ignore_index=True),
        pd.DataFrame(best).set_index("fold"),
        pd.concat(curves, ignore_index=True),
    )


def _retrain_jobs(
    returns: pd.DataFrame,
    windows: Windows,
    folds: Sequence[Fold],
    nested: Sequence[NestedFold],
    chosen: pd.DataFrame,
    network: NetworkFactory,
    name: str,
    baselines: Sequence[Strategy],
    space: Mapping[str, Domain],
    seed: int,
    seeds: int,
    threads: int,
) -> list[FoldJob]:
    """Per fold: the chosen configuration on windows of its lookback, and the baselines
    on the suite's windows."""
    jobs = []
    cut: dict[int, Windows] = {windows.lookback: windows}
    for fold, outer in zip(nested, folds, strict=True):
        config = {p: _python(chosen.loc[fold.index, p]) for p in space}
        lookback = int(config.get("lookback", windows.lookback))
        if lookback not in cut:
            cut[lookback] = make_windows(
                returns,
                lookback=lookback,
                horizon=windows.horizon,
                gap=windows.gap,
                dtype=windows.data.dtype,
            )
        strategy = dataclasses.replace(network(config), name=name)
        tuned = retrain_fold(fold, returns, cut[lookback])
        jobs.append(FoldJob(cut[lookback], tuned, fold.index, [strategy], seed, seeds, threads))
        jobs.append(FoldJob(windows, outer, fold.index, list(baselines), seed, 1, threads))
    return jobs


def _compared_with(baselines: Sequence[BaselineStrategy], name: str) -> list[Strategy]:
    """The baselines, with equal weight added when absent, checked against ``name``."""
    others: list[Strategy] = list(baselines)
    if name in {b.name for b in others}:
        raise ValueError(f"baselines: expected names other than the tuned network's {name!r}")
    if EQUAL_WEIGHT not in {b.name for b in others}:
        others.append(BaselineStrategy(EQUAL_WEIGHT, EqualWeight()))
    return others


def _tested_suite(
    windows: Windows,
    folds: Sequence[Fold],
    strategies: list[Strategy],
    outputs: Sequence[FoldOutput],
    chosen: pd.DataFrame,
    *,
    space: Mapping[str, Domain],
    search: Search,
    backtest: dict[str, Any],
) -> SuiteResult:
    """The suite of the retrained choices and the baselines (outputs in pairs per fold:
    the tuned network's, then the baselines'), backtested over every test block."""
    merged = [
        FoldOutput(net.index, {**base.weights, **net.weights}, net.histories, net.states)
        for net, base in zip(outputs[::2], outputs[1::2], strict=True)
    ]
    suite = assemble_suite(windows, folds, strategies, merged, **backtest)
    suite.configurations = search.num_samples
    lookback = windows.lookback
    suite.settings["lookback"] = (
        f"{lookback} (baselines); tuned per fold: {[_python(v) for v in chosen['lookback']]}"
        if "lookback" in space
        else lookback
    )
    suite.settings["search"] = search.describe()
    return suite


def _trial_inputs(
    returns: pd.DataFrame,
    windows: Windows,
    nested: Sequence[NestedFold],
    network: NetworkFactory,
    search: Search,
    seed: int,
    callbacks: tuple[object, ...],
) -> list[TrialData]:
    """What the trials of each fold receive: the returns before its test block, its
    training and validation blocks (no test dates), its training seed."""
    return [
        TrialData(
            network=network,
            windows=WindowSettings.of(windows),
            metric=search.metric,
            threads=search.threads,
            callbacks=callbacks,
            frame=fold.frame(returns),
            fold=dataclasses.replace(fold, test_dates=fold.test_dates[:0]),
            seed=training_seed(seed, fold.index, 0, 0),
        )
        for fold in nested
    ]


def tune_suite(
    returns: pd.DataFrame,
    network: NetworkFactory,
    space: Mapping[str, Domain],
    folds: Sequence[Fold] | Callable[[Windows], Sequence[Fold]],
    *,
    lookback: int,
    horizon: int,
    storage: str | Path,
    gap: int = 0,
    search: Search | None = None,
    baselines: Sequence[BaselineStrategy] = (),
    costs_bps: float | pd.Series = 0.0,
    rebalance: str | None = None,
    lag: int = 0,
    leverage: float = 1.0,
    seed: int = 0,
    seeds: int = 1,
    periods_per_year: float | None = None,
    cluster: Cluster | None = None,
    callbacks: Sequence[object] = (),
    dtype: torch.dtype = torch.float32,
) -> TuneResult:
    """Search hyper-parameters inside every walk-forward fold, then test the choices.

    Parameters
    ----------
    returns
        Simple asset returns (date x asset): the windows' features and targets, and the
        backtest's returns.
    network
        ``network(config) -> NetworkStrategy`` for a configuration (a dict holding a
        value for every name of ``space``); it must pickle (a module-level function).
        Its ``fit_options["epochs"]`` is a trial's budget.
    space
        Parameter name -> domain (:func:`~deepalloc.tune.choice`,
        :func:`~deepalloc.tune.uniform`, :func:`~deepalloc.tune.loguniform`,
        :func:`~deepalloc.tune.randint`). ``"lookback"`` is the windows' lookback: each
        trial cuts its own windows; every other name is for ``network``.
    folds
        The outer walk-forward folds on the windows of ``lookback`` (or a function of
        those windows returning them), each with an inner validation block.
    lookback, horizon, gap
        The windows of the baselines (and of the network when the lookback is not searched).
    storage
        Folder (or URI reachable from every node of a cluster) of Ray Tune's experiments,
        one per fold; it holds the state a resumed search continues from.
    search
        How to search (:class:`~deepalloc.tune.Search`; default ``Search()``).
    baselines
        Rules to compare with; equal weight is added when absent.
    costs_bps, rebalance, lag, leverage, periods_per_year
        Backtest settings, as for :func:`~deepalloc.evaluation.run_suite`.
    seed
        Seeds the sampler and every training run.
    seeds
        The chosen configuration is retrained this many times per fold (seed rows and
        an ensemble, as in ``run_suite``); trials train once, with seed index 0.
    cluster
        Where to run (:class:`~deepalloc.evaluation.cluster.Cluster`): a local Ray
        instance by default; an existing ``ray.init`` session is used as it is.
    callbacks
        Training callbacks added to every trial (they must pickle).
    dtype
        Floating dtype of the windows.

    Returns
    -------
    TuneResult

    Raises
    ------
    ImportError
        Without Ray Tune (the ``tune`` extra), or Optuna for ``algorithm="tpe"`` (the
        ``optuna`` extra), naming the extra.
    SearchInterrupted
        When stopped before every trial finished (the state is kept for ``resume``).
    """
    space = check_space(space)
    search = Search() if search is None else search
    require("ray.tune", "tune")
    if search.algorithm == "tpe":
        require("optuna", "optuna")
    windows = make_windows(returns, lookback=lookback, horizon=horizon, gap=gap, dtype=dtype)
    folds = folds(windows) if callable(folds) else list(folds)
    if not folds:
        raise ValueError("folds: expected at least one fold, got none")
    nested = nested_folds(returns, windows, folds, _lookbacks(space, lookback))
    strategy, epochs = _example_strategy(network, space, search)
    name = f"{strategy.name}_tuned"
    others = _compared_with(baselines, name)
    storage = str(storage) if "://" in str(storage) else str(Path(storage).resolve())
    description = {
        "space": {k: str(v) for k, v in space.items()},
        "search": {k: v for k, v in dataclasses.asdict(search).items() if k != "resume"},
        "network": strategy.name,
        "seed": seed,
        "windows": [lookback, horizon, gap, str(dtype)],
        "data": [str(returns.index[0]), str(returns.index[-1]), list(map(str, returns.columns))],
        "test_starts": [str(f.test_dates[0]) for f in nested],
    }
    _check_storage(storage, description, search.resume)
    inputs = _trial_inputs(returns, windows, nested, network, search, seed, tuple(callbacks))
    with ray_session(cluster or Cluster(), extra="tune"):
        trials, chosen, curves = _search_folds(
            inputs, space, search, storage=storage, epochs=epochs, seed=seed
        )
        jobs = _retrain_jobs(
            returns, windows, folds, nested, chosen, network, name, others, space, seed, seeds,
            search.threads,
        )  # fmt: skip
        outputs = map_folds(run_fold, jobs, n_jobs=-1, backend="ray")
    suite = _tested_suite(
        windows,
        folds,
        [dataclasses.replace(strategy, name=name), *others],
        outputs,
        chosen,
        space=space,
        search=search,
        backtest={
            "returns": returns,
            "costs_bps": costs_bps,
            "rebalance": rebalance,
            "lag": lag,
            "leverage": leverage,
            "seed": seed,
            "seeds": seeds,
            "periods_per_year": periods_per_year,
        },
    )
    return TuneResult(suite, trials, chosen.reset_index(), curves)


__all__ = ["TuneResult", "tune_suite"]
