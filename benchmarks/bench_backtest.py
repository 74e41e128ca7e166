"""Backtest of 20 years x 500 assets of daily weights, with costs.

Run: .venv/bin/python -m benchmarks.bench_backtest
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.harness import machine, median_ms
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


def main() -> dict[str, float]:
    weights, returns = data()
    results = {
        "daily_ms": median_ms(lambda: backtest(weights, returns, costs_bps=10.0), repeat=5),
        "monthly_ms": median_ms(
            lambda: backtest(weights, returns, costs_bps=10.0, rebalance="M"), repeat=5
        ),
    }
    print(f"machine: {machine()}")
    print(f"backtest 5040 dates x 500 assets, daily weights, 10 bps: {results['daily_ms']:.0f} ms")
    print(f"same, rebalanced monthly to the latest decision: {results['monthly_ms']:.0f} ms")
    return results


if __name__ == "__main__":
    main()
