"""Block bootstraps of ``deepalloc.stats`` on 2,000 daily returns.

Run: .venv/bin/python -m benchmarks.bench_stats
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.harness import machine, markdown_table, median_ms
from deepalloc.metrics import sharpe_ratio
from deepalloc.stats import bootstrap_ci, sharpe_difference_test


def data(n_obs: int = 2000) -> tuple[pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    index = pd.bdate_range("2015-01-01", periods=n_obs)
    a = rng.normal(5e-4, 0.01, n_obs)
    b = 0.6 * a + rng.normal(2e-4, 0.008, n_obs)
    return pd.Series(a, index=index), pd.Series(b, index=index)


def vector_sharpe(frame: pd.DataFrame) -> np.ndarray:
    values = frame.to_numpy()
    return values.mean(axis=0) / values.std(axis=0, ddof=1)


def main() -> pd.DataFrame:
    a, b = data()
    cases = {}
    for n_boot in (1000, 10_000):
        for method in ("stationary", "circular"):
            cases[f"bootstrap_ci {method}, vectorized Sharpe, {n_boot:,} resamples"] = (
                lambda n=n_boot, m=method: bootstrap_ci(
                    a, vector_sharpe, method=m, n_boot=n, seed=0, vectorized=True
                )
            )
    cases["bootstrap_ci stationary, metrics.sharpe_ratio per resample, 2,000 resamples"] = lambda: (
        bootstrap_ci(a, sharpe_ratio, n_boot=2000, seed=0)
    )
    for n_boot in (1000, 4999, 10_000):
        cases[f"sharpe_difference_test bootstrap, {n_boot:,} resamples"] = lambda n=n_boot: (
            sharpe_difference_test(a, b, method="bootstrap", n_boot=n, seed=0)
        )
    cases["sharpe_difference_test ledoit_wolf (HAC)"] = lambda: sharpe_difference_test(a, b)
    rows = [(name, median_ms(fn, repeat=5)) for name, fn in cases.items()]
    table = pd.DataFrame(rows, columns=["case (2,000 observations)", "median ms"])
    print(f"machine: {machine()}")
    print(markdown_table(table))
    return table


if __name__ == "__main__":
    main()
