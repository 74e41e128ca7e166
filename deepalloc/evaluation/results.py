"""What a suite returns: tables, weights, backtests and histories."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from deepalloc.analysis import metrics
from deepalloc.analysis.backtest import BacktestResult
from deepalloc.analysis.stats.difference import DifferenceMethod
from deepalloc.evaluation.significance import significance_table
from deepalloc.evaluation.strategies import EQUAL_WEIGHT


@dataclass
class SuiteResult:
    """What :func:`~deepalloc.evaluation.run_suite` returns.

    Attributes
    ----------
    table
        Strategies x metrics over all test blocks (see :mod:`deepalloc.metrics`); with
        several seeds a network has one row per seed (``name:seed<k>``) and one for its
        ensemble (``name:ensemble``, the seeds' weights averaged).
    fold_tables
        One such table per fold (the fold's test period of the same backtests).
    weights
        Strategy -> weights by decision date (all test blocks).
    backtests
        Strategy -> :class:`~deepalloc.backtest.BacktestResult`.
    histories
        Training histories, with ``strategy``, ``fold`` and ``seed`` columns.
    folds
        The folds, described by dates.
    seed_runs
        Network name -> the names of its seeds' rows (a single name with one seed).
    states
        Per fold, run name -> the trained network's ``state_dict``.
    settings
        The settings the suite ran with (data range, costs, rebalancing, lag, windows,
        seeds, ...), for reports.
    periods_per_year
        As given to the suite (``None``: inferred from the dates).
    path_tables
        With CPCV paths: (path, strategy) x metrics, the distribution of every metric
        across paths (``None`` otherwise).
    configurations
        Configurations tried to arrive at these strategies (a search sets it), for the
        deflated Sharpe ratio.
    """

    table: pd.DataFrame
    fold_tables: list[pd.DataFrame]
    weights: dict[str, pd.DataFrame]
    backtests: dict[str, BacktestResult]
    histories: pd.DataFrame
    folds: pd.DataFrame
    seed_runs: dict[str, list[str]] = field(default_factory=dict)
    states: list[dict[str, dict]] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    periods_per_year: float | None = None
    configurations: int = 1
    path_tables: pd.DataFrame | None = None

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

    def significance(
        self,
        benchmark: str = EQUAL_WEIGHT,
        *,
        n_trials: int | None = None,
        method: DifferenceMethod = "ledoit_wolf",
        confidence: float = 0.95,
    ) -> pd.DataFrame:
        """Is each strategy's difference to ``benchmark`` real? (see
        :func:`deepalloc.evaluation.significance.significance_table`).

        ``n_trials`` defaults to the trials this suite ran: every row of the table but
        the benchmark (each seed of each network, each baseline), times
        ``self.configurations`` (the configurations a search tried, 1 otherwise); pass a
        larger count when the suite itself was chosen among others.
        """
        trials = n_trials
        if trials is None:
            trials = max(len(self.table) - 1, 1) * self.configurations
        return significance_table(
            self.backtests,
            benchmark=benchmark,
            n_trials=trials,
            method=method,
            confidence=confidence,
            periods_per_year=self.periods_per_year,
        )

    def seed_summary(self) -> pd.DataFrame:
        """Mean, standard deviation (ddof 1), minimum and maximum of every metric across
        each network's seeds: rows (network, statistic), columns metrics."""
        rows = {}
        for name, runs in self.seed_runs.items():
            part = self.table.loc[runs]
            for stat in ("mean", "std", "min", "max"):
                rows[(name, stat)] = getattr(part, stat)() if stat != "std" else part.std(ddof=1)
        return pd.DataFrame(rows).T


def summary_table(
    backtests: Mapping[str, BacktestResult], periods_per_year: float | None
) -> pd.DataFrame:
    """Strategies x metrics of the backtests."""
    return pd.DataFrame(
        {
            name: res.summary(periods_per_year=periods_per_year, name=name)[name]
            for name, res in backtests.items()
        }
    ).T


def fold_table(
    backtests: Mapping[str, BacktestResult],
    start: pd.Timestamp,
    end: pd.Timestamp,
    periods_per_year: float | None,
) -> pd.DataFrame:
    """Strategies x return metrics over the dates in ``[start, end)``."""
    rows = {}
    for name, res in backtests.items():
        part = res.returns[(res.returns.index >= start) & (res.returns.index < end)]
        rows[name] = metrics.summary(
            part, periods_per_year=periods_per_year or metrics.infer_periods_per_year(res.returns)
        )
    return pd.DataFrame(rows).T
