"""The ``deepalloc`` command: ``demo``, ``run CONFIG.toml`` and ``backtest``."""

from __future__ import annotations

import argparse
import copy
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd


def _run(config: dict[str, Any], base: Path, output: str | None, progress: bool) -> int:
    from deepalloc.config import build_suite
    from deepalloc.evaluation import NetworkStrategy, run_suite
    from deepalloc.reporting.report import report

    start = time.perf_counter()
    suite = build_suite(config, base=base, output=output)
    print(
        f"data: {len(suite.returns)} dates x {suite.returns.shape[1]} assets; "
        f"{len(suite.folds)} walk-forward fold(s); strategies: "
        + ", ".join(s.name for s in suite.strategies),
        flush=True,
    )
    for strategy in suite.strategies:
        if isinstance(strategy, NetworkStrategy):
            strategy.fit_options["progress"] = progress
    result = run_suite(
        suite.windows,
        suite.strategies,
        suite.folds,
        returns=suite.returns,
        costs_bps=suite.costs_bps,
        rebalance=suite.rebalance,
        lag=suite.lag,
        seed=suite.seed,
        n_jobs=suite.n_jobs,
    )
    index = report(result, suite.output)
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
    print(f"report: {index} ({time.perf_counter() - start:.0f} s)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from deepalloc.config import DEMO_CONFIG

    config = copy.deepcopy(DEMO_CONFIG)
    if args.quick:
        config["split"]["initial_train"] = "2021-01-01"
        config["training"]["epochs"] = 2
    return _run(config, Path("."), args.output, progress=not args.no_progress)


def _run_config(args: argparse.Namespace) -> int:
    from deepalloc.config import load_config

    path = Path(args.config)
    return _run(load_config(path), path.parent, args.output, progress=not args.no_progress)


def _backtest(args: argparse.Namespace) -> int:
    from deepalloc.analysis.backtest import backtest
    from deepalloc.data import prices_to_returns
    from deepalloc.datasets import read_prices

    weights = pd.read_csv(args.weights, index_col=0, parse_dates=True)
    returns = prices_to_returns(read_prices(args.prices))
    result = backtest(
        weights, returns, costs_bps=args.costs_bps, rebalance=args.rebalance, lag=args.lag
    )
    print(result.summary(name=Path(args.weights).stem).to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deepalloc`` command."""
    parser = argparse.ArgumentParser(
        prog="deepalloc", description="Differentiable portfolio allocation."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="walk-forward benchmark on the bundled S&P 500 data, with a report"
    )
    demo.add_argument("--output", default=None, help="report folder (default deepalloc-report)")
    demo.add_argument(
        "--quick", action="store_true", help="two folds and two epochs, for a smoke run"
    )
    demo.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    demo.set_defaults(func=_demo)
    run = sub.add_parser("run", help="run a benchmark suite described by a TOML file")
    run.add_argument("config", help="path of the TOML configuration")
    run.add_argument("--output", default=None, help="report folder (overrides [output].path)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    run.set_defaults(func=_run_config)
    bt = sub.add_parser("backtest", help="backtest a weights CSV against a prices CSV")
    bt.add_argument("weights", help="CSV: first column dates, then one column per asset")
    bt.add_argument("prices", help="CSV: first column dates, then one column per asset")
    bt.add_argument(
        "--costs-bps", type=float, default=0.0, help="proportional costs in basis points"
    )
    bt.add_argument(
        "--rebalance", default=None, help="calendar frequency (W, M, Q); default every decision"
    )
    bt.add_argument("--lag", type=int, default=0, help="dates between a decision and its trade")
    bt.set_defaults(func=_backtest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepalloc`` command; returns the exit status."""
    from deepalloc.config import ConfigError

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except (ConfigError, FileNotFoundError) as err:
        print(f"deepalloc: error: {err}", file=sys.stderr)
        return 2
