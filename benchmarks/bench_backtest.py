"""Backtest of 20 years x 500 assets of daily weights, with costs: the NumPy engine
against the loop over dates it replaced, in paired rounds.

Both contenders run the same public ``backtest`` (same checks and trade schedule); the
loop swaps in the old per-date engine. Rounds alternate loop, engine, loop, engine...
after one warm-up call of each; the figures are medians, and the speed-up is the
median of the per-round ratios with their range.

Run: .venv/bin/python -m benchmarks.bench_backtest [--quick] [--rounds 9] [--output FILE]
"""

from __future__ import annotations

import argparse
from unittest import mock

import numpy as np
import pandas as pd

import deepalloc.analysis.backtest as engine_module
from benchmarks.harness import command_line, emit, machine, paired_rounds
from deepalloc.analysis._drift import Simulation
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


def loop_simulate(
    returns: np.ndarray, targets: np.ndarray, trades: np.ndarray, rate: np.ndarray
) -> Simulation:
    """The engine before vectorisation: one date at a time, holdings renormalised."""
    n_dates, n_assets = returns.shape
    trade_of = np.full(n_dates, -1)
    trade_of[trades] = np.arange(len(trades))
    held = np.zeros(n_assets)
    out = np.zeros(n_dates), np.zeros((n_dates, n_assets)), np.zeros(n_dates), np.zeros(n_dates)
    for i in range(n_dates):
        growth = 1.0
        if i > 0:
            period = float(held @ returns[i])
            held = held * (1.0 + returns[i]) / (1.0 + period)
            growth = 1.0 + period
        paid = 0.0
        if trade_of[i] >= 0:
            trade = np.abs(targets[trade_of[i]] - held)
            out[2][i] = trade.sum()
            paid = float(rate @ trade)
            held = targets[trade_of[i]].copy()
        out[3][i] = paid
        out[0][i] = growth * (1.0 - paid) - 1.0
        out[1][i] = held
    return Simulation(returns=out[0], holdings=out[1], turnover=out[2], costs=out[3])


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    weights, returns = data()
    rows = []
    for case, rebalance in (("a new target every day", None), ("monthly rebalancing", "M")):

        def engine(rebalance: str | None = rebalance) -> object:
            return backtest(weights, returns, costs_bps=10.0, rebalance=rebalance)

        def loop(rebalance: str | None = rebalance) -> object:
            with mock.patch.object(engine_module, "simulate", loop_simulate):
                return engine(rebalance)

        timed = paired_rounds({"loop": loop, "engine": engine}, rounds=rounds, warmup=1)
        rows.append(
            f"| 5,040 dates x 500 assets, {case}, 10 bps | {timed.cell('loop')} | "
            f"{timed.cell('engine')} | {timed.ratio_cell('loop', 'engine')} |"
        )
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_backtest', argv)}`",
            f"Machine: {machine()}, NumPy {np.__version__}, pandas {pd.__version__}; "
            f"{rounds} paired rounds (loop, engine, ...) after a warm-up call of each.",
            "",
            "| case | per-date loop ms | NumPy engine ms | speed-up: median (range) |",
            "|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
