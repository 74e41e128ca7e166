"""Benchmark suites: networks and baselines on the same purged splits, same costs.

``run_suite`` answers "does my network beat equal weight, out of sample, after
costs?". For every fold it trains each network on the fold's training block (early
stopping on the fold's purged validation block), produces every strategy's weights on
the fold's test decision dates, and finally backtests each strategy's weights over all
test blocks with the same costs, rebalancing and lag. Folds are independent and every
training run is seeded from ``seed``, the fold, the strategy and the seed index, so a
parallel run (joblib, or a Ray cluster) gives the same numbers as a serial one, and a
run resumed from ``cache_dir`` the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from deepalloc.analysis import metrics
from deepalloc.analysis.backtest import BacktestResult, backtest
from deepalloc.data import Fold, Windows, make_windows
from deepalloc.data.cpcv import BacktestPath
from deepalloc.evaluation.cache import FoldCache
from deepalloc.evaluation.folds import FoldJob, FoldOutput, run_fold
from deepalloc.evaluation.holdings import holdings_aware_weights
from deepalloc.evaluation.parallel import Backend, map_folds
from deepalloc.evaluation.results import SuiteResult, fold_table, summary_table
from deepalloc.evaluation.strategies import (
    NetworkStrategy,
    Strategy,
    ensemble_name,
    seed_run_name,
    with_equal_weight,
)


def asset_returns(windows: Windows, channel: int | str = 0) -> pd.DataFrame:
    """Simple asset returns by date from a target channel (see
    :meth:`deepalloc.data.Windows.asset_returns`)."""
    return windows.asset_returns(channel)


def _cached_run(job: FoldJob, folder: str | None) -> FoldOutput:
    """Run a fold, or read it from the cache; a finished fold is stored at once."""
    if folder is None:
        return run_fold(job)
    cache = FoldCache(folder)
    stored = cache.load(job)
    if stored is not None:
        return stored
    output = run_fold(job)
    cache.save(job, output)
    return output


def _rows(strategies: Sequence[Strategy], seeds: int) -> tuple[list[str], dict[str, list[str]]]:
    """The table's rows that folds produce, and each network's seed rows."""
    names: list[str] = []
    seed_runs: dict[str, list[str]] = {}
    for s in strategies:
        if isinstance(s, NetworkStrategy):
            seed_runs[s.name] = [seed_run_name(s.name, k, seeds) for k in range(seeds)]
            names += seed_runs[s.name]
        else:
            names.append(s.name)
    return names, seed_runs


def _assemble(
    pieces: Sequence[tuple[FoldOutput, pd.DatetimeIndex | None]],
    names: Sequence[str],
    seed_runs: dict[str, list[str]],
    along_path: dict[str, pd.DataFrame],
) -> dict[str, pd.DataFrame]:
    """Weights of every row over the pieces (a fold's weights, or its rows on given
    dates), in date order, or as decided along the path (holdings-aware networks); with
    several seeds, each network gains an ensemble row."""
    weights = {
        n: along_path[n]
        if n in along_path
        else pd.concat(
            [out.weights[n] if at is None else out.weights[n].loc[at] for out, at in pieces]
        ).sort_index()
        for n in names
    }
    for network, runs in seed_runs.items():
        if len(runs) > 1:
            weights[ensemble_name(network)] = sum(weights[r] for r in runs) / len(runs)
    return weights


def _windows_and_returns(
    windows: Windows | pd.DataFrame,
    returns: pd.DataFrame | None,
    lookback: int | None,
    horizon: int | None,
    gap: int,
) -> tuple[Windows, pd.DataFrame]:
    """The suite's windows, and the returns its backtests use (see ``run_suite``)."""
    if isinstance(windows, pd.DataFrame):
        if lookback is None or horizon is None:
            raise ValueError("lookback, horizon: expected both for a returns frame, got None")
        returns = windows if returns is None else returns
        windows = make_windows(windows, lookback=lookback, horizon=horizon, gap=gap)
    if returns is None:
        warnings.warn(
            "returns: none given, backtesting on the windows' targets in their dtype "
            f"({windows.data.dtype}); pass the returns frame to keep full precision",
            UserWarning,
            stacklevel=3,
        )
        returns = windows.asset_returns()
    return windows, returns


@dataclass(frozen=True)
class _Trading:
    """The backtest settings every strategy of a suite shares."""

    returns: pd.DataFrame
    costs_bps: float | pd.Series
    rebalance: str | None
    lag: int
    leverage: float
    periods_per_year: float | None

    def backtests(self, weights: dict[str, pd.DataFrame]) -> dict[str, BacktestResult]:
        """Backtest every strategy's weights."""
        return {
            name: backtest(
                w,
                self.returns,
                costs_bps=self.costs_bps,
                rebalance=self.rebalance,
                lag=self.lag,
                leverage=self.leverage,
            )
            for name, w in weights.items()
        }

    def along_path(
        self,
        pieces: Sequence[tuple[np.ndarray, int]],
        networks: dict[str, list[nn.Module]],
        windows: Windows,
    ) -> dict[str, pd.DataFrame]:
        """Holdings-aware networks' weights along one path: ``(samples, fold)`` pieces in
        time order, each decided by that fold's network, holdings carried throughout."""
        return {
            run: holdings_aware_weights(
                [(samples, nets[fold]) for samples, fold in pieces],
                windows,
                self.returns,
                rebalance=self.rebalance,
                lag=self.lag,
            )
            for run, nets in networks.items()
        }

    def describe(self, backtests: dict[str, BacktestResult]) -> dict[str, object]:
        """The settings a report states."""
        first = next(iter(backtests.values())).returns
        return {
            "costs_bps": "per asset" if isinstance(self.costs_bps, pd.Series) else self.costs_bps,
            "rebalance": self.rebalance or "every decision",
            "lag": self.lag,
            "leverage": self.leverage,
            "periods_per_year": self.periods_per_year or metrics.infer_periods_per_year(first),
        }


def _holdings_aware(
    strategies: Sequence[Strategy], seeds: int, outputs: Sequence[FoldOutput], windows: Windows
) -> dict[str, list[nn.Module]]:
    """Run name -> its trained network in every fold, for holdings-aware networks."""
    shape = (windows.data.shape[0], windows.data.shape[1], windows.lookback)
    found: dict[str, list[nn.Module]] = {}
    for s in strategies:
        if not isinstance(s, NetworkStrategy):
            continue
        for k in range(seeds):
            run = seed_run_name(s.name, k, seeds)
            if run in outputs[0].weights:
                continue  # predicted fold by fold
            nets = []
            for out in outputs:
                net = s.build(*shape)
                net.load_state_dict(out.states[run])
                nets.append(net)
            found[run] = nets
    return found


def _path_pieces(
    path: BacktestPath, outputs: Sequence[FoldOutput], windows: Windows
) -> list[tuple[FoldOutput, pd.DatetimeIndex | None]]:
    """A CPCV path's pieces: each group's decision dates, from the fold that tests it."""
    return [(outputs[fold], windows.timestamps[samples]) for fold, samples in path.pieces()]


def _fold_tables(
    backtests: dict[str, BacktestResult],
    fold_frame: pd.DataFrame,
    returns: pd.DataFrame,
    periods_per_year: float | None,
) -> list[pd.DataFrame]:
    """Each walk-forward fold's test period of the backtests."""
    starts = list(fold_frame["test_start"])
    ends = [*starts[1:], returns.index[-1] + pd.Timedelta(days=1)]
    return [
        fold_table(backtests, a, b, periods_per_year) for a, b in zip(starts, ends, strict=True)
    ]


def _data_settings(
    windows: Windows,
    returns: pd.DataFrame,
    backtests: dict[str, BacktestResult],
    n_folds: int,
    paths: Sequence[BacktestPath] | None,
) -> dict[str, object]:
    """The data and split settings a report states."""
    first = next(iter(backtests.values())).returns
    scheme = f"{n_folds} fold(s)" if paths is None else f"CPCV, {n_folds} folds, {len(paths)} paths"
    return {
        "data": f"{returns.index[0].date()} to {returns.index[-1].date()}, "
        f"{returns.shape[1]} assets",
        "test period": f"{first.index[0].date()} to {first.index[-1].date()}, {scheme}",
        "lookback": windows.lookback,
        "horizon": windows.horizon,
        "gap": windows.gap,
    }


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
    leverage: float = 1.0,
    seed: int = 0,
    seeds: int = 1,
    n_jobs: int = 1,
    backend: Backend | None = None,
    threads_per_fold: int | None = 1,
    periods_per_year: float | None = None,
    cache_dir: str | Path | None = None,
    paths: Sequence[BacktestPath] | None = None,
) -> SuiteResult:
    """Train, predict and backtest every strategy on the same folds.

    Parameters
    ----------
    windows
        Samples (features and targets) of the whole history, or a frame of simple
        asset returns (date x asset) with ``lookback`` and ``horizon`` (and ``gap``);
        that frame is then also the backtest's returns.
    strategies
        Networks and baselines; equal weight is added when absent.
    folds
        Purged folds from :func:`~deepalloc.data.holdout_split` or
        :func:`~deepalloc.data.walk_forward_folds` (or a function of the windows that
        returns them); their test blocks are concatenated.
    returns
        Simple asset returns for the backtest. Default: the returns frame given as
        ``windows``, else the windows' first target channel (in the windows' dtype: pass
        the original frame to keep full precision).
    costs_bps, rebalance, lag, leverage
        Backtest settings shared by every strategy (see :func:`deepalloc.backtest.backtest`;
        ``leverage`` is the largest gross exposure allowed, 1 for long-only budgets).
    seed
        Seeds every training run (independently per fold, strategy and seed index).
    seeds
        Train every network this many times per fold, with independent seeds: the table
        gets one row per seed (``name:seed<k>``) and an ensemble row (``name:ensemble``,
        the seeds' weights averaged); :meth:`SuiteResult.seed_summary` gives the spread.
    n_jobs, backend
        Folds in parallel with joblib (``backend`` ``None`` for joblib's default, or
        ``"ray"`` for a Ray cluster through the ``ray`` extra).
    threads_per_fold
        Torch and BLAS threads inside each fold (``None`` leaves the settings alone);
        a fixed number keeps parallel folds from oversubscribing the cores and makes
        parallel and serial runs identical.
    periods_per_year
        For the metrics (default inferred from the dates).
    cache_dir
        Store each finished fold there and reuse stored folds on a re-run with the same
        configuration (see :mod:`deepalloc.evaluation.cache`).
    paths
        With combinatorial purged folds (:func:`~deepalloc.data.combinatorial_purged_folds`),
        their backtest paths (:func:`~deepalloc.data.cpcv_paths`): every strategy is
        backtested on every path, ``path_tables`` holds each path's table, ``table`` their
        mean, and ``weights``/``backtests`` are those of the first path.

    Returns
    -------
    SuiteResult
    """
    windows, returns = _windows_and_returns(windows, returns, lookback, horizon, gap)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds: expected a positive integer, got {seeds!r}")
    folds = folds(windows) if callable(folds) else folds
    if not folds:
        raise ValueError("folds: expected at least one fold, got none")
    strategies = with_equal_weight(strategies)
    jobs = [
        FoldJob(windows, fold, i, strategies, seed, seeds, threads_per_fold)
        for i, fold in enumerate(folds)
    ]
    folder = None if cache_dir is None else str(cache_dir)
    outputs = map_folds(functools.partial(_cached_run, folder=folder), jobs, n_jobs, backend)
    trading = _Trading(returns, costs_bps, rebalance, lag, leverage, periods_per_year)
    return _result(windows, folds, strategies, seeds, outputs, trading, seed, paths)


def _result(
    windows: Windows,
    folds: Sequence[Fold],
    strategies: Sequence[Strategy],
    seeds: int,
    outputs: Sequence[FoldOutput],
    trading: _Trading,
    seed: int,
    paths: Sequence[BacktestPath] | None,
) -> SuiteResult:
    """Backtest the folds' weights and gather the result (see ``run_suite``)."""
    names, seed_runs = _rows(strategies, seeds)
    returns, periods_per_year = trading.returns, trading.periods_per_year
    aware = _holdings_aware(strategies, seeds, outputs, windows)
    if paths is None:
        along = trading.along_path([(f.test, i) for i, f in enumerate(folds)], aware, windows)
        weights = _assemble([(out, None) for out in outputs], names, seed_runs, along)
        backtests = trading.backtests(weights)
        table, path_tables = summary_table(backtests, periods_per_year), None
    else:
        per_path = [
            _assemble(
                _path_pieces(p, outputs, windows),
                names,
                seed_runs,
                trading.along_path([(s, f) for f, s in p.pieces()], aware, windows),
            )
            for p in paths
        ]
        path_backtests = [trading.backtests(w) for w in per_path]
        path_tables = pd.concat(
            {p: summary_table(b, periods_per_year) for p, b in enumerate(path_backtests)},
            names=["path", "strategy"],
        )
        weights, backtests = per_path[0], path_backtests[0]
        table = path_tables.groupby(level="strategy", sort=False).mean()
    fold_frame = pd.DataFrame([f.describe(windows.timestamps) for f in folds])
    histories = [h for out in outputs for h in out.histories]
    return SuiteResult(
        table=table,
        fold_tables=[] if paths else _fold_tables(backtests, fold_frame, returns, periods_per_year),
        weights=weights,
        backtests=backtests,
        histories=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
        folds=fold_frame,
        seed_runs=seed_runs,
        states=[out.states for out in outputs],
        settings={
            **_data_settings(windows, returns, backtests, len(folds), paths),
            **trading.describe(backtests),
            "seed": seed,
            "seeds": seeds,
        },
        periods_per_year=periods_per_year,
        path_tables=path_tables,
    )


def assemble_suite(
    windows: Windows,
    folds: Sequence[Fold],
    strategies: Sequence[Strategy],
    outputs: Sequence[FoldOutput],
    *,
    returns: pd.DataFrame,
    costs_bps: float | pd.Series = 0.0,
    rebalance: str | None = None,
    lag: int = 0,
    leverage: float = 1.0,
    seed: int = 0,
    seeds: int = 1,
    periods_per_year: float | None = None,
) -> SuiteResult:
    """The :class:`SuiteResult` of walk-forward folds that already ran: every strategy's
    weights from ``outputs`` (one per fold, holding each row of ``strategies``) backtested
    over all test blocks with the same settings, as :func:`run_suite` does.

    ``windows`` and ``folds`` describe the test blocks in the result (their dates); a
    search uses it to gather the folds of its retrained configurations.
    """
    strategies = with_equal_weight(strategies)
    trading = _Trading(returns, costs_bps, rebalance, lag, leverage, periods_per_year)
    return _result(windows, folds, strategies, seeds, outputs, trading, seed, None)
