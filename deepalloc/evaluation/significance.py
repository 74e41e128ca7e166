"""Is a strategy's difference to a benchmark real? Tests for every row of a suite.

For each strategy against the benchmark (equal weight by default), on the same
out-of-sample dates after costs: the Sharpe difference with its confidence interval and
p-value (Ledoit and Wolf 2008, HAC standard error, by default), the p-values adjusted
for testing several strategies against one benchmark (Holm 1979), the probabilistic
Sharpe ratio against 0 and against the benchmark's Sharpe ratio (Bailey and López de
Prado 2012), and the deflated Sharpe ratio given the number of trials the suite ran
(Bailey and López de Prado 2014). Sharpe ratios and their differences are shown
annualised (per-period values times ``sqrt(periods_per_year)``); the probabilities are
unit-free. :func:`verdict` says the result in words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from deepalloc.analysis import metrics, stats
from deepalloc.analysis.backtest import BacktestResult

LEVEL = 0.05
"""Significance level of the verdicts (on Holm-adjusted p-values)."""


def verdict(name: str, benchmark: str, row: Mapping[str, float]) -> str:
    """One line saying whether ``name`` beats ``benchmark``, from a significance row.

    For example ``"lstm vs equal_weight: Sharpe +0.03 (95% CI -0.31 to +0.37, p = 0.86,
    Holm p = 1.00): no evidence of outperformance"``.
    """
    diff, low, high = row["sharpe_difference"], row["ci_low"], row["ci_high"]
    p, holm_p = row["p_value"], row["holm_p_value"]
    if holm_p < LEVEL:
        words = "significant outperformance" if diff > 0 else "significant underperformance"
        words += f" at the {LEVEL:.0%} level after Holm's adjustment"
    else:
        words = (
            "no evidence of outperformance"
            if diff > 0 or math.isnan(diff)
            else ("no evidence of a difference (it trails, within noise)")
        )
    confidence = row.get("confidence", 0.95)
    return (
        f"{name} vs {benchmark}: Sharpe {diff:+.2f} ({confidence:.0%} CI {low:+.2f} to "
        f"{high:+.2f}, p = {p:.2f}, Holm p = {holm_p:.2f}): {words}"
    )


def significance_table(
    backtests: Mapping[str, BacktestResult],
    *,
    benchmark: str,
    n_trials: int | None = None,
    method: stats.difference.DifferenceMethod = "ledoit_wolf",
    confidence: float = 0.95,
    periods_per_year: float | None = None,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Significance of every strategy against ``benchmark``; rows strategies.

    Parameters
    ----------
    backtests
        Strategy -> backtest, all on the same dates (the rows of a suite).
    benchmark
        The strategy every other one is compared with.
    n_trials
        Trials behind the selection, for the deflated Sharpe ratio; default the number
        of strategies other than the benchmark (a search over configurations should
        pass the number of configurations tried times that).
    method, confidence, seed
        Of :func:`deepalloc.stats.sharpe_difference_test` (``seed`` for the bootstrap).
    periods_per_year
        To annualise Sharpe ratios (default inferred from the dates).

    Returns
    -------
    pandas.DataFrame
        Columns ``sharpe``, ``benchmark_sharpe``, ``sharpe_difference``, ``ci_low``,
        ``ci_high`` (annualised), ``p_value``, ``holm_p_value``, ``psr``
        (P[SR > 0]), ``psr_vs_benchmark`` (P[SR > the benchmark's observed SR]),
        ``dsr``, ``n_trials``, ``confidence``, ``verdict``.
    """
    if benchmark not in backtests:
        raise ValueError(f"benchmark: expected one of {sorted(backtests)}, got {benchmark!r}")
    frame = pd.DataFrame({name: res.returns for name, res in backtests.items()}).dropna()
    if len(frame) < 3:
        raise ValueError(f"backtests: expected at least 3 common dates, got {len(frame)}")
    ppy = float(periods_per_year or metrics.infer_periods_per_year(frame.iloc[:, 0]))
    scale = math.sqrt(ppy)
    others = [name for name in frame.columns if name != benchmark]
    bench = frame[benchmark]
    bench_sr = stats.per_period_sharpe(bench)
    sharpes = {name: stats.per_period_sharpe(frame[name]) for name in others}
    trials = n_trials if n_trials is not None else max(len(others), 1)
    variance = float(np.var(list(sharpes.values()), ddof=1)) if len(others) > 1 else 0.0
    rows = {}
    for name in others:
        test = stats.sharpe_difference_test(
            frame[name], bench, method=method, confidence=confidence, seed=seed
        )
        rows[name] = {
            "sharpe": sharpes[name] * scale,
            "benchmark_sharpe": bench_sr * scale,
            "sharpe_difference": test.difference * scale,
            "ci_low": test.ci_low * scale,
            "ci_high": test.ci_high * scale,
            "p_value": test.p_value,
            "psr": stats.probabilistic_sharpe_ratio(frame[name], benchmark=0.0),
            "psr_vs_benchmark": stats.probabilistic_sharpe_ratio(frame[name], benchmark=bench_sr),
            "dsr": stats.deflated_sharpe_ratio(
                frame[name], n_trials=trials, trials_sharpe_variance=variance
            ),
            "n_trials": float(trials),
            "confidence": confidence,
        }
    table = pd.DataFrame(rows).T
    if table.empty:
        return table
    table.insert(6, "holm_p_value", stats.holm(table["p_value"].astype(float)))
    table["verdict"] = [verdict(name, benchmark, table.loc[name]) for name in table.index]
    return table
