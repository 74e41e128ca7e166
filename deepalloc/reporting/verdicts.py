"""What a report says in words and the Sharpe intervals it draws.

The verdict lines come from :meth:`deepalloc.evaluation.SuiteResult.significance`
(Ledoit-Wolf test of the Sharpe difference to the benchmark, Holm-adjusted p-values).
The intervals of each strategy's own Sharpe ratio use the standard error of Mertens
(2002), valid for non-normal iid returns (:func:`deepalloc.stats.sharpe_standard_error`):
``SR +/- z * se``, annualised with ``sqrt(periods_per_year)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

import pandas as pd

from deepalloc.analysis import metrics, stats
from deepalloc.analysis.backtest import BacktestResult
from deepalloc.evaluation import EQUAL_WEIGHT, SuiteResult
from deepalloc.evaluation.strategies import ensemble_name


def significance_or_reason(
    result: SuiteResult, benchmark: str = EQUAL_WEIGHT
) -> tuple[pd.DataFrame, str | None]:
    """The suite's significance table, or an empty one and the reason it has none (too
    few dates, a degenerate series: the error is named in the reason, and the report
    says so at the top instead of failing)."""
    if len(result.table) < 2:
        return pd.DataFrame(), f"only {benchmark} ran: there is nothing to compare it with"
    try:
        return result.significance(benchmark), None
    except (ValueError, ArithmeticError) as error:
        return pd.DataFrame(), (f"they could not be computed ({type(error).__name__}: {error})")


def reading_note(table: pd.DataFrame, benchmark: str = EQUAL_WEIGHT) -> str:
    """A plain-language note on the p-values, PSR and DSR of a significance table."""
    trials = int(table["n_trials"].iloc[0]) if "n_trials" in table and len(table) else 1
    return (
        f"How to read this: the p-value is the probability of a Sharpe difference to "
        f"{benchmark} at least as large as the one observed if the two strategies' true "
        "Sharpe ratios were equal (Ledoit and Wolf 2008 test, robust to fat tails and "
        "serial correlation); the interval is the range of true differences compatible "
        "with the data. Holm's p-value corrects for testing several strategies against "
        "the same benchmark: with many tries, one small p-value is expected by chance. "
        "The probabilistic Sharpe ratio (PSR) is the probability that a strategy's true "
        "Sharpe ratio is above zero. The deflated Sharpe ratio (DSR) is the probability "
        f"that it is above the best Sharpe ratio that {trials} trials of pure noise would "
        "be expected to show: below 0.95 the result is compatible with luck of the best "
        "of many tries. Sharpe ratios and differences are annualised."
    )


def sharpe_intervals(
    backtests: Mapping[str, BacktestResult],
    *,
    confidence: float = 0.95,
    periods_per_year: float | None = None,
) -> pd.DataFrame:
    """Each strategy's annualised Sharpe ratio with a Mertens (2002) interval.

    Returns
    -------
    pandas.DataFrame
        Rows strategies, columns ``sharpe``, ``ci_low``, ``ci_high``, ``standard_error``
        (all annualised).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a probability in (0, 1), got {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    rows = {}
    for name, res in backtests.items():
        ppy = float(periods_per_year or metrics.infer_periods_per_year(res.returns))
        scale = math.sqrt(ppy)
        sr = stats.per_period_sharpe(res.returns) * scale
        se = stats.sharpe_standard_error(res.returns, method="mertens") * scale
        rows[name] = {
            "sharpe": sr,
            "ci_low": sr - z * se,
            "ci_high": sr + z * se,
            "standard_error": se,
        }
    return pd.DataFrame(rows).T


def seed_spreads(result: SuiteResult) -> dict[str, list[float]]:
    """Ensemble row -> its seeds' Sharpe ratios, for networks trained with several seeds."""
    out = {}
    for network, runs in result.seed_runs.items():
        name = ensemble_name(network)
        if len(runs) > 1 and name in result.table.index:
            out[name] = [float(result.table.loc[r, "sharpe_ratio"]) for r in runs]
    return out


def path_spreads(result: SuiteResult) -> dict[str, list[float]]:
    """Strategy -> its Sharpe ratio on each CPCV path (empty without paths)."""
    if result.path_tables is None:
        return {}
    sharpe = result.path_tables["sharpe_ratio"]
    return {
        str(name): [float(v) for v in part.to_numpy()]
        for name, part in sharpe.groupby(level="strategy", sort=False)
    }


def path_summary(path_tables: pd.DataFrame, metrics_: list[str]) -> pd.DataFrame:
    """Strategies x (metric, statistic): mean, std (ddof 1), min and max across paths."""
    grouped = path_tables[metrics_].groupby(level="strategy", sort=False)
    frame = grouped.agg(["mean", "std", "min", "max"])
    frame.columns = [f"{m} {s}" for m, s in frame.columns]
    return frame


__all__ = [
    "path_spreads",
    "path_summary",
    "reading_note",
    "seed_spreads",
    "sharpe_intervals",
    "significance_or_reason",
]
