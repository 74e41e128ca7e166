"""Write a self-contained report folder for a benchmark suite.

Every file goes through :func:`deepalloc._files.atomic_writer`: it is written to a
temporary file in the same folder and moved into place with ``os.replace``, so an
interruption leaves each file either as it was or complete.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pandas as pd

from deepalloc._files import atomic_writer
from deepalloc.evaluation import EQUAL_WEIGHT, SuiteResult
from deepalloc.reporting import content, visualize
from deepalloc.reporting.content import SUMMARY_COLUMNS
from deepalloc.reporting.document import to_markdown
from deepalloc.reporting.html import to_html

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 110


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _slugs(names: list[str]) -> dict[str, str]:
    """A distinct file-name stem for each strategy name."""
    out: dict[str, str] = {}
    for name in names:
        stem, k = _slug(name), 1
        while stem in out.values():
            k += 1
            stem = f"{_slug(name)}_{k}"
        out[name] = stem
    return out


FILE_MODE = 0o644
"""Permissions of report files: readable by all, as a umask of 022 gives (the
temporary files of :func:`~deepalloc._files.atomic_writer` are created private)."""


@contextlib.contextmanager
def _open(path: Path, mode: str) -> Iterator[IO[Any]]:
    """:func:`~deepalloc._files.atomic_writer` with :data:`FILE_MODE` set before the move."""
    with atomic_writer(path, mode) as file:
        yield file
        if hasattr(os, "fchmod"):
            os.fchmod(file.fileno(), FILE_MODE)


def _write_csv(path: Path, frame: pd.DataFrame, **options: Any) -> None:
    with _open(path, "w") as file:
        frame.to_csv(file, lineterminator="\n", **options)


def _write_text(path: Path, text: str) -> None:
    with _open(path, "w") as file:
        file.write(text)


def _write_png(path: Path, make: Callable[[], Figure]) -> bytes:
    """Draw a figure, write it as PNG, and return the bytes written."""
    figure = make()
    with _open(path, "wb") as file:
        figure.savefig(file, format="png", dpi=DPI)
    return path.read_bytes()


def _write_tables(
    result: SuiteResult, out: Path, findings: content.Findings, slugs: dict[str, str]
) -> None:
    _write_csv(out / "metrics.csv", result.table, index_label="strategy")
    if EQUAL_WEIGHT in result.table.index:
        _write_csv(out / "comparison.csv", result.comparison(), index_label="strategy")
    if not findings.significance.empty:
        _write_csv(out / "significance.csv", findings.significance, index_label="strategy")
    settings = pd.Series({str(k): str(v) for k, v in result.settings.items()}, name="value")
    _write_csv(out / "settings.csv", settings.to_frame(), index_label="setting")
    _write_csv(out / "folds.csv", result.folds, index=False)
    for i, table in enumerate(result.fold_tables):
        _write_csv(out / "folds" / f"fold_{i}_metrics.csv", table, index_label="strategy")
    if findings.distance is not None:
        _write_csv(
            out / "folds" / "equal_weight_distance.csv", findings.distance, index_label="strategy"
        )
    if result.path_tables is not None:
        _write_csv(out / "path_metrics.csv", result.path_tables)
    for name, weights in result.weights.items():
        _write_csv(out / "weights" / f"{slugs[name]}.csv", weights, index_label="date")
    for name, res in result.backtests.items():
        _write_csv(out / "holdings" / f"{slugs[name]}.csv", res.holdings, index_label="date")
    if not result.histories.empty:
        _write_csv(out / "training_history.csv", result.histories, index=False)


def _figure_makers(
    result: SuiteResult, findings: content.Findings, slugs: dict[str, str]
) -> dict[str, Callable[[], Figure]]:
    """File name -> a function drawing that figure (drawn one at a time when written)."""
    from deepalloc.reporting import verdicts

    makers: dict[str, Callable[[], Figure]] = {}
    intervals = findings.intervals
    if intervals is not None:
        makers["sharpe_intervals.png"] = lambda: visualize.sharpe_intervals(
            intervals,
            benchmark=EQUAL_WEIGHT,
            seeds=verdicts.seed_spreads(result),
            paths=verdicts.path_spreads(result),
        )
    makers["equity_curves.png"] = lambda: visualize.equity_curves(result.backtests)
    makers["drawdowns.png"] = lambda: visualize.drawdowns(result.backtests)
    makers["metrics_table.png"] = lambda: visualize.metrics_table(result.table[SUMMARY_COLUMNS])
    history = result.histories
    if not history.empty and (history["metric"] == "loss").any():
        labels = findings.fold_labels or None
        makers["training_curves.png"] = lambda: visualize.training_curves(
            history, fold_labels=labels
        )
    for name, res in result.backtests.items():
        makers[f"weights_{slugs[name]}.png"] = functools.partial(
            visualize.held_weights, res, title=f"Held weights: {name}"
        )
    return makers


def report(
    result: SuiteResult, path: str | Path, *, title: str = "deepalloc benchmark report"
) -> Path:
    """Write metrics, tests, weights, figures, ``index.md`` and ``index.html`` into ``path``.

    The report says at the top, in words, whether each strategy beats equal weight
    (:meth:`~deepalloc.evaluation.SuiteResult.significance`), then states the settings
    the suite ran with, the metrics, the per-fold results (flagging networks whose
    weights stayed near equal weight on a fold, see :mod:`deepalloc.reporting.folds`),
    the held weights and the training curves. ``index.html`` beside ``index.md`` is the
    same report as one self-contained page (figures embedded, nothing loaded from
    elsewhere) to open in a browser or share.

    Parameters
    ----------
    result
        Output of :func:`deepalloc.evaluate.run_suite`.
    path
        Folder to create (or fill); nothing is written outside it. Every file is written
        atomically (a temporary file in the same folder, then ``os.replace``).
    title
        Heading of the report.

    Returns
    -------
    pathlib.Path
        The path of ``index.md`` (``index.html`` is in the same folder).
    """
    out = Path(path)
    for folder in ("weights", "holdings", "folds"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    findings = content.find(result)
    slugs = _slugs(list(dict.fromkeys([*result.weights, *result.backtests])))
    _write_tables(result, out, findings, slugs)
    images = {
        name: _write_png(out / name, make)
        for name, make in _figure_makers(result, findings, slugs).items()
    }
    weight_figures = {name: f"weights_{slugs[name]}.png" for name in result.backtests}
    blocks = content.build(
        result, findings, title=title, figures=list(images), weight_figures=weight_figures
    )
    index = out / "index.md"
    _write_text(index, to_markdown(blocks))
    _write_text(out / "index.html", to_html(blocks, title=title, images=images))
    return index


__all__ = [
    "SUMMARY_COLUMNS",
    "report",
]
