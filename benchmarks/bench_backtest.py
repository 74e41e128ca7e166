"""Backtest of 20 years x 500 assets of daily weights, with costs.

Two cases in paired rounds: a new target every day, and the same weights rebalanced
monthly to the latest decision (both 10 bps costs).

Run: python -m benchmarks.bench_backtest [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from benchmarks.harness import command_line, emit, machine, paired_rounds
from deepalloc.backtest import backtest


def data(n_dates: int = 5040, n_assets: int = 500) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    index = pd.bdate_range("2000-01-03", periods=n_dates)
    columns = [f"a{i}" for i in range(n_assets)]
    returns = pd.DataFrame(
        rng.normal(3e-4, 0.01, (n_dates, n_assets)), index=index, columns=columns
    )
    weights = pd.DataFrame(rng.dirichlet(np.ones(n_assets), n_dates), index=index, columns=columns)
    return weights, returns


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    weights, returns = data()
    timed = paired_rounds(
        {
            "daily": lambda: backtest(weights, returns, costs_bps=10.0),
            "monthly": lambda: backtest(weights, returns, costs_bps=10.0, rebalance="M"),
        },
        rounds=rounds,
        warmup=2,
    )
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_backtest', argv)}`",
            f"Machine: {machine()}, NumPy {np.__version__}, pandas {pd.__version__}; "
            f"{rounds} paired rounds after 2 warm-up calls each.",
            "",
            "| case | median ms |",
            "|---|---|",
            f"| 5,040 dates x 500 assets, a new target every day, 10 bps | {timed.cell('daily')} |",
            f"| the same weights, rebalanced monthly to the latest decision | "
            f"{timed.cell('monthly')} |",
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
