"""What a suite report says, section by section, as blocks for Markdown and HTML.

Order: the verdicts in words (and networks that did not learn), the settings, the
metrics, the difference to equal weight, the significance tests with the Sharpe
intervals, the spread across seeds or CPCV paths, wealth and drawdowns, the per-fold
results, the held weights, the training curves and the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from deepalloc._version import __version__
from deepalloc.evaluation import EQUAL_WEIGHT, SuiteResult
from deepalloc.reporting import folds as fold_views
from deepalloc.reporting.document import Block, Bullets, Heading, Image, Paragraph, Table
from deepalloc.reporting.verdicts import path_summary, reading_note

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
"""The metrics shown in the report's tables (``metrics.csv`` has them all)."""

FOLD_METRICS = ["sharpe_ratio", "annualized_return", "max_drawdown"]
"""The metrics shown fold by fold."""

SIGNIFICANCE_COLUMNS = [
    "sharpe",
    "benchmark_sharpe",
    "sharpe_difference",
    "ci_low",
    "ci_high",
    "p_value",
    "holm_p_value",
    "psr",
    "psr_vs_benchmark",
    "dsr",
]


@dataclass
class Findings:
    """What the report computed from a suite before writing it."""

    significance: pd.DataFrame
    significance_reason: str | None
    intervals: pd.DataFrame | None = None
    fold_labels: list[str] = field(default_factory=list)
    distance: pd.DataFrame | None = None
    not_learned: list[str] = field(default_factory=list)


def find(result: SuiteResult) -> Findings:
    """Significance, Sharpe intervals, fold labels and the networks that stayed at
    equal weight."""
    from deepalloc.reporting.verdicts import sharpe_intervals, significance_or_reason

    table, reason = significance_or_reason(result)
    findings = Findings(table, reason)
    try:
        findings.intervals = sharpe_intervals(
            result.backtests, periods_per_year=result.periods_per_year
        )
    except (ValueError, ArithmeticError):  # too few dates, a constant series
        findings.intervals = None
    if result.fold_tables and len(result.folds):
        findings.fold_labels = fold_views.fold_labels(result.folds)
        rows = fold_views.network_rows(result.seed_runs, list(result.weights))
        findings.distance = fold_views.equal_weight_distance(
            {name: result.weights[name] for name in rows if name in result.weights},
            result.folds,
            findings.fold_labels,
        )
        findings.not_learned = fold_views.did_not_learn(findings.distance)
    return findings


def _verdict_section(result: SuiteResult, findings: Findings) -> list[Block]:
    blocks: list[Block] = [Heading("Verdict")]
    if findings.significance_reason is not None:
        blocks.append(Paragraph(f"No significance tests: {findings.significance_reason}."))
    else:
        sig = findings.significance
        blocks += [
            Bullets(tuple(str(v) for v in sig["verdict"]), emphasis=True),
            Paragraph(reading_note(sig)),
        ]
    if findings.not_learned:
        blocks += [
            Paragraph(
                "Networks that did not learn (mean active share against equal weight, "
                "0.5 sum |w - 1/n|, below "
                f"{fold_views.NEAR_EQUAL_WEIGHT:.0%} on a fold's test dates):"
            ),
            Bullets(tuple(findings.not_learned)),
        ]
    return blocks


def _settings_section(result: SuiteResult) -> list[Block]:
    blocks: list[Block] = [Heading("Settings")]
    if not result.settings:
        return [*blocks, Paragraph("The suite did not record its settings.")]
    frame = pd.DataFrame(
        {"value": [str(v) for v in result.settings.values()]},
        index=pd.Index([str(k).replace("_", " ") for k in result.settings], name="setting"),
    )
    return [*blocks, Table(frame, index_label="setting")]


def _metrics_sections(result: SuiteResult) -> list[Block]:
    over = (
        "all test blocks"
        if result.path_tables is None
        else f"mean over {result.path_tables.index.get_level_values('path').nunique()} CPCV paths"
    )
    blocks: list[Block] = [
        Heading(f"Metrics ({over}, after costs)"),
        Table(result.table[SUMMARY_COLUMNS]),
    ]
    if EQUAL_WEIGHT in result.table.index:
        versus = result.vs_equal_weight[["annualized_return", "sharpe_ratio", "max_drawdown"]]
        blocks += [Heading("Difference to equal weight"), Table(versus)]
    return blocks


def _significance_section(
    result: SuiteResult, findings: Findings, figures: Sequence[str]
) -> list[Block]:
    blocks: list[Block] = [Heading("Significance against equal weight")]
    if findings.significance_reason is None:
        columns = [c for c in SIGNIFICANCE_COLUMNS if c in findings.significance]
        blocks.append(Table(findings.significance[columns].astype(float)))
    if "sharpe_intervals.png" in figures:
        spread = "its CPCV paths" if result.path_tables is not None else "its seeds"
        blocks += [
            Paragraph(
                "Each strategy's annualised Sharpe ratio with a 95% interval from the "
                "standard error of Mertens (2002) for non-normal returns; markers show the "
                f"spread across {spread} where there are several."
            ),
            Image("sharpe_intervals.png", "Sharpe ratios with 95% intervals"),
        ]
    return blocks


def _spread_sections(result: SuiteResult) -> list[Block]:
    blocks: list[Block] = []
    several = {n: r for n, r in result.seed_runs.items() if len(r) > 1}
    if several:
        summary = result.seed_summary()
        frame = pd.DataFrame(
            {
                f"{metric} {stat}": [summary.loc[(n, stat), metric] for n in several]
                for metric in ("sharpe_ratio", "annualized_return")
                for stat in ("mean", "std", "min", "max")
            },
            index=list(several),
        )
        blocks += [
            Heading("Spread across seeds"),
            Paragraph("Each network's seeds, trained independently on every fold."),
            Table(frame, index_label="network"),
        ]
    if result.path_tables is not None:
        blocks += [
            Heading("Spread across CPCV paths"),
            Table(path_summary(result.path_tables, ["sharpe_ratio", "annualized_return"])),
        ]
    return blocks


def _fold_section(result: SuiteResult, findings: Findings) -> list[Block]:
    blocks: list[Block] = [Heading("Per fold")]
    if not result.fold_tables:
        return [
            *blocks,
            Paragraph("No per-fold results: the suite ran on CPCV paths (see their spread)."),
        ]
    frame = result.folds[["test_start", "test_end", "train_size", "test_size"]].copy()
    frame.index = pd.Index(findings.fold_labels, name="fold")
    for column in ("test_start", "test_end"):
        frame[column] = [str(pd.Timestamp(v).date()) for v in frame[column]]
    blocks.append(Table(frame, index_label="fold"))
    for metric in FOLD_METRICS:
        table = fold_views.fold_metric_table(result.fold_tables, findings.fold_labels, metric)
        blocks += [Heading(metric.replace("_", " ") + " by fold", 3), Table(table)]
    if findings.distance is not None and not findings.distance.empty:
        blocks += [
            Heading("Distance to equal weight by fold (networks)", 3),
            Paragraph(
                "Mean active share against equal weight, 0.5 sum |w - 1/n|, over the "
                "fold's test decisions: 0 is equal weight; below "
                f"{fold_views.NEAR_EQUAL_WEIGHT:.0%} the network is flagged as not learning."
            ),
            Table(findings.distance),
        ]
    return blocks


def _files_section() -> list[Block]:
    return [
        Heading("Files"),
        Bullets(
            (
                "`metrics.csv`: every metric by strategy; `comparison.csv`: with differences "
                "to equal weight; `significance.csv`: the tests against equal weight",
                "`settings.csv`: the settings above",
                "`folds.csv` and `folds/`: fold dates, per-fold metrics and distances to "
                "equal weight",
                "`weights/`: the decisions by date; `holdings/`: the weights held at each "
                "close (after drift and trades) for each strategy",
                "`training_history.csv`: training and validation curves of the networks",
                "`index.html`: this report as one self-contained page",
            )
        ),
    ]


def build(
    result: SuiteResult,
    findings: Findings,
    *,
    title: str,
    figures: Sequence[str],
    weight_figures: Mapping[str, str],
) -> list[Block]:
    """The report's blocks; ``figures`` names the PNG files written, ``weight_figures``
    maps each strategy to its held-weights figure."""
    settings = result.settings
    period = settings.get("test period") or (
        f"{result.folds['test_start'].iloc[0].date()} to "
        f"{next(iter(result.backtests.values())).returns.index[-1].date()}, "
        f"{len(result.folds)} fold(s)"
    )
    blocks: list[Block] = [
        Heading(title, 1),
        Paragraph(f"Out-of-sample test period: {period}. Written by deepalloc {__version__}."),
        *_verdict_section(result, findings),
        *_settings_section(result),
        *_metrics_sections(result),
        *_significance_section(result, findings, figures),
        *_spread_sections(result),
        Heading("Wealth and drawdowns"),
        Image("equity_curves.png", "Wealth of each strategy"),
        Image("drawdowns.png", "Drawdown of each strategy"),
        *_fold_section(result, findings),
        Heading("Weights held"),
        Paragraph(
            "The weights the backtest holds at each close, drifting with the market between "
            "trades, and the turnover of each trade."
        ),
        *(Image(f, f"Held weights: {name}") for name, f in weight_figures.items()),
    ]
    if "training_curves.png" in figures:
        blocks += [
            Heading("Training"),
            Image("training_curves.png", "Training and validation loss by epoch"),
        ]
    return [*blocks, *_files_section()]


__all__ = ["FOLD_METRICS", "SUMMARY_COLUMNS", "Findings", "build", "find"]
