"""Write a self-contained report folder for a benchmark suite."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from deepalloc.evaluation import SuiteResult
from deepalloc.reporting import visualize

SUMMARY_COLUMNS = [
    "annualized_return",
    "annualized_volatility",
    "sharpe_ratio",
    "sortino_ratio",
    "max_drawdown",
    "calmar_ratio",
    "average_turnover",
    "total_costs",
]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _markdown(table: pd.DataFrame, digits: int = 3) -> str:
    header = "| strategy | " + " | ".join(str(c).replace("_", " ") for c in table.columns) + " |"
    rule = "|---" * (len(table.columns) + 1) + "|"
    rows = [
        f"| {index} | " + " | ".join(f"{v:.{digits}f}" for v in row) + " |"
        for index, row in zip(table.index, table.to_numpy(dtype=float), strict=True)
    ]
    return "\n".join([header, rule, *rows])


def report(
    result: SuiteResult, path: str | Path, *, title: str = "deepalloc benchmark report"
) -> Path:
    """Write metrics, weights, plots and a readable ``index.md`` into ``path``.

    Parameters
    ----------
    result
        Output of :func:`deepalloc.evaluate.run_suite`.
    path
        Folder to create (or fill); nothing is written outside it.
    title
        Heading of the index.

    Returns
    -------
    pathlib.Path
        The path of ``index.md``.
    """
    out = Path(path)
    (out / "weights").mkdir(parents=True, exist_ok=True)
    (out / "folds").mkdir(exist_ok=True)
    result.table.to_csv(out / "metrics.csv", index_label="strategy")
    result.comparison().to_csv(out / "comparison.csv", index_label="strategy")
    result.folds.to_csv(out / "folds.csv", index=False)
    for i, table in enumerate(result.fold_tables):
        table.to_csv(out / "folds" / f"fold_{i}_metrics.csv", index_label="strategy")
    for name, weights in result.weights.items():
        weights.to_csv(out / "weights" / f"{_slug(name)}.csv", index_label="date")
    if not result.histories.empty:
        result.histories.to_csv(out / "training_history.csv", index=False)

    plots = {
        "equity_curves.png": visualize.equity_curves(result.backtests),
        "drawdowns.png": visualize.drawdowns(result.backtests),
        "metrics_table.png": visualize.metrics_table(result.table[SUMMARY_COLUMNS]),
    }
    if not result.histories.empty:
        plots["training_curves.png"] = visualize.training_curves(result.histories)
    for name, weights in result.weights.items():
        plots[f"weights_{_slug(name)}.png"] = visualize.weights_area(
            weights, title=f"Weights: {name}"
        )
    for filename, fig in plots.items():
        fig.savefig(out / filename, dpi=110)

    key = result.table[SUMMARY_COLUMNS]
    versus = result.vs_equal_weight[["annualized_return", "sharpe_ratio", "max_drawdown"]]
    lines = [
        f"# {title}",
        "",
        f"Out-of-sample test period: {result.folds['test_start'].iloc[0].date()} to "
        f"{result.backtests[key.index[0]].returns.index[-1].date()}, {len(result.folds)} fold(s).",
        "",
        "## Metrics (all test blocks, after costs)",
        "",
        _markdown(key),
        "",
        "## Difference to equal weight",
        "",
        _markdown(versus),
        "",
        "## Plots",
        "",
        *[f"![{f}]({f})" for f in plots],
        "",
        "## Files",
        "",
        "- `metrics.csv`: every metric by strategy; `comparison.csv`: with differences to equal weight",
        "- `folds.csv` and `folds/`: fold dates and per-fold metrics",
        "- `weights/`: weights by decision date for each strategy",
        "- `training_history.csv`: training and validation curves of the networks",
        "",
    ]
    index = out / "index.md"
    index.write_text("\n".join(lines))
    return index


__all__ = [
    "SUMMARY_COLUMNS",
    "report",
]
