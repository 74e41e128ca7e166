"""What the ``deepalloc`` subcommands do: ``demo``, ``run CONFIG.toml``, ``tune CONFIG.toml``
and ``backtest``.

Each command checks its inputs before any work starts; a bad input raises
:class:`CommandError` (or :class:`deepalloc.config.ConfigError`) with a message naming
the file or argument, which :func:`deepalloc.cli.main` prints as one line.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from deepalloc._files import atomic_writer

if TYPE_CHECKING:
    from deepalloc.config import Suite
    from deepalloc.config.tuning import SearchPlan
    from deepalloc.evaluation import SuiteResult
    from deepalloc.evaluation.tuning import TuneResult


class CommandError(Exception):
    """An input of a command is invalid; the message names the file or argument."""


def _print_plan(suite: Suite) -> None:
    print(
        f"data: {len(suite.returns)} dates x {suite.returns.shape[1]} assets; "
        f"{len(suite.folds)} fold(s); strategies: " + ", ".join(s.name for s in suite.strategies),
        flush=True,
    )


def _final(suite: Suite, result: SuiteResult) -> None:
    """Train every network on all data, save it, and write tomorrow's weights (a
    holdings-aware network decides from what its walk-forward portfolio holds)."""
    import re

    from deepalloc.analysis.backtest import holdings_before_trade
    from deepalloc.evaluation.final import train_final
    from deepalloc.models import save

    final = train_final(
        suite.windows,
        suite.strategies,
        val_size=suite.final_val_size,
        train_size=suite.final_train_size,
        seed=suite.seed,
        seeds=suite.seeds,
        fold_index=len(result.folds),
        holdings={
            name: holdings_before_trade(bt, suite.returns) for name, bt in result.backtests.items()
        },
    )
    models = suite.output / "models"
    models.mkdir(parents=True, exist_ok=True)
    for run, network in final.networks.items():
        metadata = {
            "strategy": run,
            "trained_through": str(final.decision_date.date()),
            "val_size": suite.final_val_size,
        }
        path = models / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', run)}.pt"
        save(network, path, windows=suite.windows, metadata=metadata)
    table = final.weights.copy()
    table.insert(0, "date", final.holding_date.date().isoformat())
    latest = suite.output / "latest_weights.csv"
    with atomic_writer(latest, "w") as file:
        table.to_csv(file)
    print(
        f"final models: {models}; weights decided at the close of "
        f"{final.decision_date.date()} to hold from {final.holding_date.date()}: {latest}"
    )


@contextlib.contextmanager
def _extras() -> Iterator[None]:
    """A missing extra (Ray, Ray Tune, Optuna) as a one-line command error."""
    try:
        yield
    except ImportError as err:
        raise CommandError(str(err)) from None


def _run_folds(suite: Suite) -> SuiteResult:
    from deepalloc.evaluation import run_suite
    from deepalloc.evaluation.cluster import cluster_cpus, ray_session

    options = {
        "returns": suite.returns,
        "costs_bps": suite.costs_bps,
        "rebalance": suite.rebalance,
        "lag": suite.lag,
        "leverage": suite.leverage,
        "seed": suite.seed,
        "seeds": suite.seeds,
        "cache_dir": suite.cache_dir,
    }
    if suite.cluster.backend == "local":
        return run_suite(
            suite.windows, suite.strategies, suite.folds, n_jobs=suite.n_jobs, **options
        )
    with _extras(), ray_session(suite.cluster) as ray:
        print(f"cluster: {suite.cluster.describe()}, {cluster_cpus(ray)} CPU(s)", flush=True)
        # [output].n_jobs = 1 (the default) runs as many folds at once as the cluster has CPUs
        n_jobs = -1 if suite.n_jobs == 1 else suite.n_jobs
        return run_suite(
            suite.windows, suite.strategies, suite.folds, n_jobs=n_jobs, backend="ray", **options
        )


def _print_table(result: SuiteResult) -> None:
    columns = [
        "annualized_return",
        "annualized_volatility",
        "sharpe_ratio",
        "max_drawdown",
        "average_turnover",
    ]
    table = result.comparison()[[c for col in columns for c in (col, f"{col} vs EW")]]
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.precision", 3):
        print(table.to_string(float_format=lambda v: f"{v:.3f}"))


def _run_suite(suite: Suite, progress: bool, final: bool = False) -> int:
    from deepalloc.evaluation import NetworkStrategy
    from deepalloc.reporting.report import report

    start = time.perf_counter()
    for strategy in suite.strategies:
        if isinstance(strategy, NetworkStrategy):
            strategy.fit_options["progress"] = progress
    result = _run_folds(suite)
    for line in verdict_lines(result):
        print(line)
    index = report(result, suite.output)
    if final:
        _final(suite, result)
    _print_table(result)
    print(f"report: {index} ({time.perf_counter() - start:.0f} s)")
    return 0


def verdict_lines(result: SuiteResult) -> list[str]:
    """The suite's answer in words: is each strategy's difference to equal weight real?

    One line per strategy (a network's ensemble when it has several seeds, not every
    seed; the Holm adjustment still counts every seed), then each network's spread of
    Sharpe ratios across seeds.
    """
    from deepalloc.evaluation.strategies import ensemble_name

    verdicts = result.significance()["verdict"]
    networks = [
        runs[0] if len(runs) == 1 else ensemble_name(net) for net, runs in result.seed_runs.items()
    ]
    seeds = {run for runs in result.seed_runs.values() if len(runs) > 1 for run in runs}
    others = [name for name in verdicts.index if name not in seeds and name not in networks]
    lines = [verdicts[name] for name in [*networks, *others]]
    for network, runs in result.seed_runs.items():
        if len(runs) > 1:
            sharpe = result.table.loc[runs, "sharpe_ratio"]
            lines.append(
                f"{network}: Sharpe across {len(runs)} seeds {sharpe.mean():.2f} "
                f"+/- {sharpe.std(ddof=1):.2f} (min {sharpe.min():.2f}, max {sharpe.max():.2f})"
            )
    return lines


def demo(args: argparse.Namespace) -> int:
    """``deepalloc demo``: the bundled S&P 500 walk-forward suite."""
    from deepalloc.config import DEMO_CONFIG, build_suite

    config = copy.deepcopy(DEMO_CONFIG)
    if args.quick:
        config["split"]["initial_train"] = "2021-01-01"
        config["training"]["epochs"] = 2
        config["training"]["seeds"] = 2
    suite = build_suite(config, base=Path("."), output=args.output)
    _print_plan(suite)
    return _run_suite(suite, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    """``deepalloc run CONFIG.toml``: check the whole configuration, then run it."""
    from deepalloc.config import load_suite

    suite = load_suite(args.config, output=args.output)
    _print_plan(suite)
    if args.check:
        print(f"{args.config}: valid; nothing trained (--check)")
        return 0
    return _run_suite(suite, progress=not args.no_progress, final=args.final)


def _chosen_lines(chosen: pd.DataFrame, trials: pd.DataFrame, space: list[str]) -> list[str]:
    """One line per fold: the chosen configuration and its inner validation score."""
    lines = []
    for _, row in chosen.iterrows():
        n = int((trials["fold"] == row["fold"]).sum())
        values = ", ".join(
            f"{p}={row[p]:.4g}" if isinstance(row[p], float) else f"{p}={row[p]}" for p in space
        )
        lines.append(
            f"fold {row['fold']}: trial {row['trial']} of {n} (validation score "
            f"{row['score']:.4g}, epoch {row['best_epoch']}): {values}"
        )
    return lines


def _search_section(result: TuneResult, plan: SearchPlan, where: str) -> str:
    """The report's section on the search: settings, the choice per fold, the files."""
    space = list(plan.space)
    header = ["fold", "trial", "validation score", "best epoch", *space]
    rows = [
        [str(row["fold"]), str(row["trial"]), f"{row['score']:.4g}", str(row["best_epoch"])]
        + [f"{row[p]:.4g}" if isinstance(row[p], float) else str(row[p]) for p in space]
        for _, row in result.chosen.iterrows()
    ]
    lines = [
        "",
        "## Search",
        "",
        f"{plan.network.spec['name']}: {plan.search.describe()}, on {where}. Trials train on "
        "each fold's training block and are scored on its purged validation block only; the "
        "chosen configuration (below) is retrained on the fold and tested on its test block. "
        f"The deflated Sharpe ratio counts {result.suite.configurations} configurations.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(r) + " |" for r in rows),
        "",
        "- `trials.csv`: every trial (configuration, validation score, epochs trained); "
        "`trial_curves.csv`: its validation score per epoch; `chosen.csv`: the choices",
        f"- Ray Tune's experiments (to resume): `{plan.storage}`",
        "",
    ]
    return "\n".join(lines)


def tune(args: argparse.Namespace) -> int:
    """``deepalloc tune CONFIG.toml``: the [search] of a suite, nested in its folds."""
    from deepalloc.config import load_suite
    from deepalloc.evaluation import BaselineStrategy
    from deepalloc.evaluation.tuning import tune_suite
    from deepalloc.reporting.report import report

    suite = load_suite(args.config, output=args.output)
    plan = suite.search
    if plan is None:
        raise CommandError(
            f"{args.config}: expected a [search] section (the space to search), got none; "
            "see examples/config.toml"
        )
    if args.resume:
        plan.search = dataclasses.replace(plan.search, resume=True)
    cluster = suite.cluster
    _print_plan(suite)
    print(
        f"search: {plan.network.spec['name']} over {', '.join(plan.space)}; "
        f"{plan.search.describe()}; on {cluster.describe()}; storage {plan.storage}",
        flush=True,
    )
    if args.check:
        print(f"{args.config}: valid; nothing trained (--check)")
        return 0
    start = time.perf_counter()
    baselines = [s for s in suite.strategies if isinstance(s, BaselineStrategy)]
    with _extras():
        try:
            result = tune_suite(
                suite.returns,
                plan.network,
                plan.space,
                suite.folds,
                lookback=suite.windows.lookback,
                horizon=suite.windows.horizon,
                gap=suite.windows.gap,
                storage=plan.storage,
                search=plan.search,
                baselines=baselines,
                costs_bps=suite.costs_bps,
                rebalance=suite.rebalance,
                lag=suite.lag,
                leverage=suite.leverage,
                seed=suite.seed,
                seeds=suite.seeds,
                cluster=cluster,
            )
        except ValueError as err:
            if str(err).startswith("storage: "):
                raise CommandError(f"{args.config} [search].{err}") from None
            raise
    for line in _chosen_lines(result.chosen, result.trials, list(plan.space)):
        print(line)
    for line in verdict_lines(result.suite):
        print(line)
    index = report(result.suite, suite.output, title="deepalloc search report")
    with open(index, "a") as handle:
        handle.write(_search_section(result, plan, cluster.describe()))
    result.trials.to_csv(suite.output / "trials.csv", index=False)
    result.chosen.to_csv(suite.output / "chosen.csv", index=False)
    result.curves.to_csv(suite.output / "trial_curves.csv", index=False)
    _print_table(result.suite)
    print(
        f"report: {index}; trials: {suite.output / 'trials.csv'} ({time.perf_counter() - start:.0f} s)"
    )
    return 0


def _read_weights(path: str) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
            frame = pd.read_csv(path, index_col=0, parse_dates=True)
    except pd.errors.EmptyDataError:
        raise CommandError(
            f"weights {path}: expected a date column and one column per asset, got an empty file"
        ) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise CommandError(f"weights {path}: expected a CSV file, got {err}") from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise CommandError(
            f"weights {path}: expected a date column and one column per asset, got "
            f"{len(frame)} row(s) and {frame.shape[1]} asset column(s)"
        )
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise CommandError(
            f"weights {path}: expected dates in the first column, got {frame.index[0]!r}"
        )
    return frame


def _read_prices(path: str) -> pd.DataFrame:
    from deepalloc.datasets import read_prices

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
            return read_prices(path)
    except pd.errors.EmptyDataError:
        raise CommandError(
            f"prices {path}: expected a date column and one column per asset, got an empty file"
        ) from None
    except (ValueError, TypeError, ImportError) as err:
        message = str(err)
        named = message.startswith(str(Path(path)))  # read_prices names the file
        raise CommandError(f"prices {message}" if named else f"prices {path}: {message}") from None


def _check_decision_dates(
    weights: pd.DataFrame, prices: pd.DataFrame, args: argparse.Namespace
) -> None:
    """Every decision date must be a price date (the first price date included)."""
    unknown = weights.index.difference(prices.index)
    if len(unknown):
        raise CommandError(
            f"weights {args.weights}: expected decision dates that are dates of prices "
            f"{args.prices}, got {len(unknown)} that are not (first {unknown[0].date()})"
        )


def backtest(args: argparse.Namespace) -> int:
    """``deepalloc backtest WEIGHTS.csv PRICES.csv``: backtest and print the summary."""
    from deepalloc.analysis.backtest import backtest as run_backtest
    from deepalloc.data import prices_to_returns

    weights = _read_weights(args.weights)
    prices = _read_prices(args.prices)
    if len(prices) < 2:
        raise CommandError(f"prices {args.prices}: expected at least two dates, got {len(prices)}")
    _check_decision_dates(weights, prices, args)
    try:
        result = run_backtest(
            weights,
            prices_to_returns(prices),
            costs_bps=args.costs_bps,
            rebalance=args.rebalance,
            lag=args.lag,
            leverage=args.leverage,
        )
    except (ValueError, TypeError) as err:
        message = str(err)
        labels = (
            ("weights", f"weights {args.weights}"),
            ("lag", "argument --lag"),
            ("leverage", "argument --leverage"),
        )
        for name, label in labels:
            if message.startswith(f"{name}: "):
                message = f"{label}: {message[len(name) + 2 :]}"
        raise CommandError(message) from None
    summary = result.summary(name=Path(args.weights).stem)
    print(summary.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def predict(args: argparse.Namespace) -> int:
    """``deepalloc predict MODEL PRICES.csv``: a saved model's weights for a date."""
    from deepalloc.data import prices_to_returns
    from deepalloc.models import ModelFileError, holding_date, latest_weights, load

    try:
        model = load(args.model)
    except ModelFileError as err:
        raise CommandError(str(err)) from None
    prices = _read_prices(args.prices)
    holdings = None
    if args.holdings is not None:
        frame = _read_weights(args.holdings)
        if len(frame) != 1:
            raise CommandError(
                f"holdings {args.holdings}: expected one row of weights, got {len(frame)}"
            )
        holdings = frame.iloc[0]
    try:
        weights = latest_weights(
            model, prices_to_returns(prices), date=args.date, holdings=holdings
        )
    except (ValueError, TypeError) as err:
        raise CommandError(f"prices {args.prices}: {err}") from None
    name = str(model.metadata.get("strategy", Path(args.model).stem))
    table = weights.to_frame(name).T.rename_axis("strategy")
    table.insert(0, "date", holding_date(weights.name).date().isoformat())
    if args.output is None:
        print(table.to_csv(), end="")
    else:
        with atomic_writer(args.output, "w") as file:
            table.to_csv(file)
        print(f"{name}: weights decided at the close of {weights.name.date()}: {args.output}")
    return 0


__all__ = ["CommandError", "backtest", "demo", "predict", "run", "tune"]
