"""Backtest of 20 years x 500 assets of daily weights, with costs: the NumPy engine
against the loop over dates it replaced, in paired rounds.

Both contenders run the same public ``backtest`` (same checks and trade schedule); the
loop swaps in the old per-date engine. Rounds alternate loop, engine, loop, engine...
after one warm-up call of each; the figures are medians, and the speed-up is the
median of the per-round ratios with their range.

Run: .venv/bin/python -m benchmarks.bench_backtest [--rounds 9]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from unittest import mock

import numpy as np
import pandas as pd

import deepalloc.analysis.backtest as engine_module
from benchmarks.harness import machine
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


def paired_ms(loop: Callable[[], object], engine: Callable[[], object], rounds: int) -> dict:
    """Medians (ms) of each and the median, min and max of the per-round loop/engine ratio."""
    loop(), engine()  # warm-up
    times: dict[str, list[float]] = {"loop": [], "engine": []}
    for _ in range(rounds):
        for name, fn in (("loop", loop), ("engine", engine)):
            start = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - start) * 1e3)
    ratios = np.array(times["loop"]) / np.array(times["engine"])
    return {
        "loop_ms": float(np.median(times["loop"])),
        "engine_ms": float(np.median(times["engine"])),
        "speedup": float(np.median(ratios)),
        "speedup_min": float(ratios.min()),
        "speedup_max": float(ratios.max()),
    }


def main(rounds: int = 9) -> dict[str, dict]:
    weights, returns = data()
    cases = {"daily": None, "monthly": "M"}
    results = {}
    for case, rebalance in cases.items():

        def run(rebalance: str | None = rebalance) -> object:
            return backtest(weights, returns, costs_bps=10.0, rebalance=rebalance)

        def run_loop(rebalance: str | None = rebalance) -> object:
            with mock.patch.object(engine_module, "simulate", loop_simulate):
                return run(rebalance)

        results[case] = paired_ms(run_loop, run, rounds)
    print(f"machine: {machine()}; {rounds} paired rounds after a warm-up")
    print("backtest 5040 dates x 500 assets, 10 bps: loop ms | engine ms | speed-up (range)")
    for case, r in results.items():
        print(
            f"{case:8s} {r['loop_ms']:6.0f} | {r['engine_ms']:6.0f} | {r['speedup']:.2f}x "
            f"({r['speedup_min']:.2f}-{r['speedup_max']:.2f})"
        )
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    main(parser.parse_args().rounds)
