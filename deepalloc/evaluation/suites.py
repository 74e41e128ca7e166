"""Benchmark suites: networks and baselines on the same purged splits, same costs.

``run_suite`` answers "does my network beat equal weight, out of sample, after
costs?". For every fold it trains each network on the fold's training block (early
stopping on the fold's purged validation block), produces every strategy's weights on
the fold's test decision dates, and finally backtests each strategy's weights over all
test blocks with the same costs, rebalancing and lag. Folds are independent and seeded
from ``seed`` and their index, so a parallel run (joblib, or a Ray cluster) gives the
same numbers as a serial one.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepalloc.analysis import metrics
from deepalloc.analysis.backtest import BacktestResult, backtest
from deepalloc.baselines import EqualWeight
from deepalloc.data import Fold, WindowLoader, Windows, make_windows
from deepalloc.losses import Loss
from deepalloc.training import fit, predict

EQUAL_WEIGHT = "equal_weight"


@dataclass
class NetworkStrategy:
    """A network trained afresh on every fold.

    Attributes
    ----------
    name
        Label in tables and plots.
    build
        ``build(n_channels, n_assets, lookback) -> nn.Module``, called once per fold.
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


@dataclass
class SuiteResult:
    """What :func:`run_suite` returns.

    Attributes
    ----------
    table
        Strategies x metrics over all test blocks (see :mod:`deepalloc.metrics`).
    fold_tables
        One such table per fold (the fold's test period of the same backtests).
    weights
        Strategy -> weights by decision date (all test blocks).
    backtests
        Strategy -> :class:`~deepalloc.backtest.BacktestResult`.
    histories
        Training histories, with ``strategy`` and ``fold`` columns.
    folds
        The folds, described by dates.
    """

    table: pd.DataFrame
    fold_tables: list[pd.DataFrame]
    weights: dict[str, pd.DataFrame]
    backtests: dict[str, BacktestResult]
    histories: pd.DataFrame
    folds: pd.DataFrame

    @property
    def vs_equal_weight(self) -> pd.DataFrame:
        """Each metric minus equal weight's (strategies x metrics)."""
        return self.table - self.table.loc[EQUAL_WEIGHT]

    def comparison(self) -> pd.DataFrame:
        """The table with, after each metric, its difference to equal weight."""
        parts = {}
        for column in self.table.columns:
            parts[column] = self.table[column]
            parts[f"{column} vs EW"] = self.vs_equal_weight[column]
        return pd.DataFrame(parts)


@contextlib.contextmanager
def _fold_threads(threads: int | None) -> Iterator[None]:
    """Run a fold with a fixed number of torch threads (restored afterwards), so that
    serial and parallel runs reduce in the same order."""
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _run_fold(
    windows: Windows,
    fold: Fold,
    index: int,
    strategies: Sequence[Strategy],
    seed: int,
    threads: int | None,
) -> tuple[dict[str, pd.DataFrame], list[pd.DataFrame]]:
    """Weights of every strategy on the fold's test dates, and training histories."""
    test_windows = _subset_inputs(windows, fold.test)
    n_channels, n_assets = windows.data.shape[0], windows.data.shape[1]
    weights: dict[str, pd.DataFrame] = {}
    histories: list[pd.DataFrame] = []
    with _fold_threads(threads), torch.random.fork_rng(devices=[]):
        for k, strategy in enumerate(strategies):
            fold_seed = seed + 1000 * index + k
            if isinstance(strategy, BaselineStrategy):
                weights[strategy.name] = predict(strategy.rule, test_windows)
                continue
            torch.manual_seed(fold_seed)
            network = strategy.build(n_channels, n_assets, windows.lookback)
            options = copy.deepcopy(strategy.fit_options)
            batch_size = options.pop("batch_size", 32)
            train = WindowLoader(
                windows, fold.train, batch_size=batch_size, shuffle=True, generator=fold_seed
            )
            val = WindowLoader(windows, fold.val, batch_size=256) if len(fold.val) else None
            options.setdefault("progress", False)
            result = fit(network, strategy.loss, train, val_loader=val, seed=fold_seed, **options)
            histories.append(result.history.assign(strategy=strategy.name, fold=index))
            weights[strategy.name] = predict(result.network, test_windows)
    return weights, histories


def _subset_inputs(windows: Windows, indices: np.ndarray) -> Windows:
    """Inputs-only windows whose samples are ``indices`` (a contiguous block)."""
    if len(indices) == 0 or np.any(np.diff(indices) != 1):
        raise ValueError("fold.test: expected a contiguous, non-empty block of samples")
    start, stop = int(indices[0]), int(indices[-1]) + windows.lookback
    return Windows(
        data=windows.data[..., start:stop],
        target_data=None,
        dates=windows.dates[start:stop],
        assets=windows.assets,
        channels=windows.channels,
        target_channels=(),
        lookback=windows.lookback,
        horizon=0,
        gap=0,
        returns_kind=windows.returns_kind,
    )


def asset_returns(windows: Windows, channel: int = 0) -> pd.DataFrame:
    """Simple asset returns by date from a target channel of the windows."""
    if windows.target_data is None:
        raise ValueError("windows: expected targets holding returns, got windows without y")
    values = windows.target_data[channel].T.double().cpu().numpy()
    if windows.returns_kind == "log":
        values = np.expm1(values)
    return pd.DataFrame(values, index=windows.dates, columns=windows.assets)


def run_suite(
    windows: Windows | pd.DataFrame,
    strategies: Sequence[Strategy],
    folds: Sequence[Fold] | Callable[[Windows], Sequence[Fold]],
    *,
    lookback: int | None = None,
    horizon: int | None = None,
    gap: int = 0,
    returns: pd.DataFrame | None = None,
    costs_bps: float | pd.Series = 0.0,
    rebalance: str | None = None,
    lag: int = 0,
    seed: int = 0,
    n_jobs: int = 1,
    backend: str | None = None,
    threads_per_fold: int | None = 1,
    periods_per_year: float | None = None,
) -> SuiteResult:
    """Train, predict and backtest every strategy on the same folds.

    Parameters
    ----------
    windows
        Samples (features and targets) of the whole history, or a frame of simple
        asset returns (date x asset) with ``lookback`` and ``horizon`` (and ``gap``).
    strategies
        Networks and baselines; equal weight is added when absent.
    folds
        Purged folds from :func:`~deepalloc.data.holdout_split` or
        :func:`~deepalloc.data.walk_forward_folds` (or a function of the windows that
        returns them); their test blocks are concatenated.
    returns
        Simple asset returns for the backtest (default: target channel 0 of the
        windows, converted from log returns if needed).
    costs_bps, rebalance, lag
        Backtest settings shared by every strategy (see :func:`deepalloc.backtest.backtest`).
    seed
        Seeds each fold's training (``seed + 1000 * fold + strategy``).
    n_jobs, backend
        Folds in parallel with joblib (``backend`` ``None`` for joblib's default, or
        ``"ray"`` for a Ray cluster through the ``ray`` extra).
    threads_per_fold
        Torch threads inside each fold (``None`` leaves the setting alone); a fixed
        number makes parallel and serial runs identical.
    periods_per_year
        For the metrics (default inferred from the dates).

    Returns
    -------
    SuiteResult
    """
    if isinstance(windows, pd.DataFrame):
        if lookback is None or horizon is None:
            raise ValueError("lookback, horizon: expected both for a returns frame, got None")
        windows = make_windows(windows, lookback=lookback, horizon=horizon, gap=gap)
    if callable(folds):
        folds = folds(windows)
    if not folds:
        raise ValueError("folds: expected at least one fold, got none")
    names = [s.name for s in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"strategies: expected unique names, got {names}")
    strategies = list(strategies)
    if EQUAL_WEIGHT not in names:
        strategies.append(BaselineStrategy(EQUAL_WEIGHT, EqualWeight()))
    returns = asset_returns(windows) if returns is None else returns
    jobs = [(windows, fold, i, strategies, seed, threads_per_fold) for i, fold in enumerate(folds)]
    outputs = _map_folds(jobs, n_jobs, backend)
    weights = {
        s.name: pd.concat([out[0][s.name] for out in outputs]).sort_index() for s in strategies
    }
    histories = [h for out in outputs for h in out[1]]
    backtests = {
        name: backtest(w, returns, costs_bps=costs_bps, rebalance=rebalance, lag=lag)
        for name, w in weights.items()
    }
    table = pd.DataFrame(
        {
            name: res.summary(periods_per_year=periods_per_year, name=name)[name]
            for name, res in backtests.items()
        }
    ).T
    fold_frame = pd.DataFrame([f.describe(windows.timestamps) for f in folds])
    fold_tables = [
        _fold_table(backtests, start, end, periods_per_year)
        for start, end in _fold_periods(fold_frame, returns)
    ]
    return SuiteResult(
        table=table,
        fold_tables=fold_tables,
        weights=weights,
        backtests=backtests,
        histories=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
        folds=fold_frame,
    )


def _fold_periods(
    folds: pd.DataFrame, returns: pd.DataFrame
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    starts = list(folds["test_start"])
    ends = [*starts[1:], returns.index[-1] + pd.Timedelta(days=1)]
    return list(zip(starts, ends, strict=True))


def _fold_table(
    backtests: Mapping[str, BacktestResult],
    start: pd.Timestamp,
    end: pd.Timestamp,
    periods_per_year: float | None,
) -> pd.DataFrame:
    rows = {}
    for name, res in backtests.items():
        part = res.returns[(res.returns.index >= start) & (res.returns.index < end)]
        rows[name] = metrics.summary(
            part, periods_per_year=periods_per_year or metrics.infer_periods_per_year(res.returns)
        )
    return pd.DataFrame(rows).T


def _map_folds(jobs: list[tuple[Any, ...]], n_jobs: int, backend: str | None) -> list[Any]:
    if n_jobs == 1 and backend is None:
        return [_run_fold(*job) for job in jobs]
    from joblib import Parallel, delayed, parallel_backend

    if backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as err:
            raise ImportError(
                "backend='ray' needs the 'ray' extra: pip install 'deepalloc[ray]'"
            ) from err
        register_ray()
    with parallel_backend(backend or "loky", n_jobs=n_jobs):
        return list(Parallel()(delayed(_run_fold)(*job) for job in jobs))
