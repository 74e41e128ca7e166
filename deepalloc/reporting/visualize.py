"""Plots of backtests, weights, training and metrics.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot: no
``plt.show()``, no global style or state touched; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from deepalloc.analysis.backtest import BacktestResult


def _figure(width: float = 9.0, height: float = 4.5) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def equity_curves(results: Mapping[str, BacktestResult], *, log: bool = True) -> Figure:
    """Wealth of each strategy over time (log scale by default)."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, res in results.items():
        ax.plot(res.wealth.index, res.wealth.to_numpy(), label=name, linewidth=1.2)
    if log:
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        plain = FuncFormatter(lambda value, _: f"{value:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax.set_title("Wealth")
    ax.set_ylabel("portfolio value")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def drawdowns(results: Mapping[str, BacktestResult]) -> Figure:
    """Drawdown of each strategy over time."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, res in results.items():
        ax.plot(res.drawdown.index, 100 * res.drawdown.to_numpy(), label=name, linewidth=1.0)
    ax.set_title("Drawdown")
    ax.set_ylabel("% below the running peak")
    ax.legend(loc="lower left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _stack(ax: Axes, frame: pd.DataFrame) -> None:
    """Stacked areas of a (date x asset) frame in the asset palette, with a legend."""
    from deepalloc.reporting.palette import asset_colors, asset_hatches

    n = frame.shape[1]
    polys = ax.stackplot(
        frame.index,
        frame.to_numpy(dtype=float).T,
        labels=[str(c) for c in frame.columns],
        colors=asset_colors(n),
        linewidth=0.0,
    )
    for poly, hatch in zip(polys, asset_hatches(n), strict=True):
        if hatch:
            poly.set_hatch(hatch)
            poly.set_edgecolor((1.0, 1.0, 1.0, 0.6))
    ax.set_ylim(0, max(1.0, float(frame.sum(axis=1).max())))
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(  # top to bottom, as stacked
        handles[::-1],
        labels[::-1],
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="x-small",
        ncol=1 + (n - 1) // 25 if n else 1,
    )


def weights_area(weights: pd.DataFrame, *, title: str = "Weights") -> Figure:
    """Stacked area of long-only weights over time (date x asset), one colour per asset
    (distinct for up to 60 assets, see :mod:`deepalloc.reporting.palette`)."""
    fig = _figure()
    ax = fig.add_subplot()
    _stack(ax, weights)
    ax.set_title(title)
    return fig


def held_weights(result: BacktestResult, *, title: str = "Held weights") -> Figure:
    """What the backtest holds: the weights at each close after drift and trades
    (``result.holdings``, stacked) above the turnover of each trade.

    Between trades (for example monthly rebalancing) the held weights drift with the
    market; they are the portfolio the returns come from, unlike the decisions.
    """
    fig = _figure(9.0, 5.5)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    _stack(top, result.holdings)
    top.set_title(title)
    top.set_ylabel("weight held at the close")
    trades = result.turnover[result.turnover > 0]
    bottom.vlines(trades.index, 0.0, trades.to_numpy(), color="0.25", linewidth=1.0)
    bottom.set_ylim(0.0, max(float(trades.max()) if len(trades) else 0.0, 1e-3) * 1.1)
    bottom.set_ylabel("turnover")
    bottom.set_title(f"{len(trades)} trade(s)", fontsize="small")
    bottom.grid(alpha=0.3)
    return fig


def weights_heatmap(weights: pd.DataFrame, *, title: str = "Weights") -> Figure:
    """Heatmap of weights (assets x time)."""
    fig = _figure(9.0, 0.25 * len(weights.columns) + 1.5)
    ax = fig.add_subplot()
    values = weights.to_numpy().T
    limit = float(np.abs(values).max()) or 1.0
    image = ax.imshow(
        values, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest"
    )
    ax.set_yticks(
        range(len(weights.columns)), [str(c) for c in weights.columns], fontsize="x-small"
    )
    ticks = np.linspace(0, len(weights) - 1, min(8, len(weights))).astype(int)
    ax.set_xticks(ticks, [weights.index[i].strftime("%Y-%m") for i in ticks], fontsize="small")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


_SPLIT_STYLES = {"train": ("-", "training"), "val": ("--", "validation")}


def training_curves(
    history: pd.DataFrame,
    *,
    metric: str = "loss",
    fold_labels: Sequence[str] | None = None,
) -> Figure:
    """Training and validation ``metric`` by epoch: one panel per network.

    Parameters
    ----------
    history
        Rows ``epoch, split, metric, value, strategy`` and optionally ``fold`` and
        ``seed`` (``SuiteResult.histories``); a strategy ``name:seed<k>`` is drawn in the
        panel of ``name``.
    metric
        The metric to draw.
    fold_labels
        A label for each fold number (default ``"fold <k>"``), for example the fold's
        test year.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per network; colour tells the folds apart (in time order), a solid
        line is training and a dashed line validation; seeds share their fold's colour.
    """
    from matplotlib import colormaps

    rows = history[history["metric"] == metric]
    if rows.empty:
        raise ValueError(f"history: expected rows with metric {metric!r}, got none")
    if "fold" not in rows:
        rows = rows.assign(fold=0)
    networks = rows["strategy"].astype(str).str.split(":").str[0]
    names = list(dict.fromkeys(networks))
    folds = sorted(int(f) for f in rows["fold"].unique())
    if fold_labels is not None and len(fold_labels) <= folds[-1]:
        raise ValueError(
            f"fold_labels: expected a label for folds 0 to {folds[-1]}, got {len(fold_labels)}"
        )
    labels = {f: (str(fold_labels[f]) if fold_labels is not None else f"fold {f}") for f in folds}
    cmap = colormaps["viridis"]
    colours = {f: cmap(0.9 * i / max(len(folds) - 1, 1)) for i, f in enumerate(folds)}
    ncols = min(len(names), 2)
    nrows = -(-len(names) // ncols)
    fig = _figure(6.0 * ncols + 2.0, 3.4 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, name in zip(axes, names, strict=False):
        _training_panel(ax, rows[networks == name], colours, labels)
        ax.set_title(name + _seed_note(rows[networks == name]))
        ax.set_ylabel(metric)
    for ax in axes[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(
        f"Training curves ({metric}): colour = fold, solid = training, dashed = validation"
    )
    return fig


def _seed_note(part: pd.DataFrame) -> str:
    seeds = part["strategy"].nunique()
    return f" ({seeds} seeds per fold)" if seeds > 1 else ""


def _training_panel(
    ax: Axes,
    part: pd.DataFrame,
    colours: Mapping[int, tuple[float, float, float, float]],
    labels: Mapping[int, str],
) -> None:
    """One network's curves: a line per (run, fold, split) and a legend of folds and splits."""
    from matplotlib.lines import Line2D

    for (_, fold, split), line in part.groupby(["strategy", "fold", "split"]):
        style = _SPLIT_STYLES.get(str(split), (":", str(split)))[0]
        ax.plot(line["epoch"], line["value"], style, color=colours[int(fold)], linewidth=1.1)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    present = set(int(f) for f in part["fold"])
    handles = [Line2D([], [], color=colours[f], label=labels[f]) for f in colours if f in present]
    for split in dict.fromkeys(part["split"].astype(str)):
        style, label = _SPLIT_STYLES.get(split, (":", split))
        handles.append(Line2D([], [], color="0.2", linestyle=style, label=label))
    ax.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="x-small",
        ncol=1 + len(handles) // 16,
    )


def sharpe_intervals(
    intervals: pd.DataFrame,
    *,
    confidence: float = 0.95,
    benchmark: str | None = None,
    seeds: Mapping[str, Sequence[float]] | None = None,
    paths: Mapping[str, Sequence[float]] | None = None,
) -> Figure:
    """Each strategy's annualised Sharpe ratio with its confidence interval.

    Parameters
    ----------
    intervals
        Rows strategies, columns ``sharpe``, ``ci_low``, ``ci_high`` (for example
        :func:`deepalloc.reporting.verdicts.sharpe_intervals`).
    confidence
        The intervals' confidence, for the legend.
    benchmark
        A strategy whose Sharpe ratio is drawn as a vertical reference line.
    seeds, paths
        Strategy -> the Sharpe ratios of its seeds, or of its CPCV paths, drawn as
        markers on its row to show the spread.

    Returns
    -------
    matplotlib.figure.Figure
        One row per strategy (top to bottom in the order given).
    """
    n = len(intervals)
    fig = _figure(9.0, 0.45 * n + 1.6)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    sr = intervals["sharpe"].to_numpy(dtype=float)
    low = intervals["ci_low"].to_numpy(dtype=float)
    high = intervals["ci_high"].to_numpy(dtype=float)
    ax.errorbar(
        sr,
        y,
        xerr=np.vstack([sr - low, high - sr]),
        fmt="o",
        color="black",
        capsize=3,
        label=f"Sharpe ratio, {confidence:.0%} interval",
    )
    for spread, marker, colour, label in (
        (seeds, "x", "tab:red", "seeds"),
        (paths, "|", "tab:blue", "CPCV paths"),
    ):
        first = True
        for row, name in zip(y, intervals.index, strict=True):
            values = (spread or {}).get(str(name))
            if values:
                ax.scatter(
                    values,
                    np.full(len(values), row + 0.18),
                    marker=marker,
                    color=colour,
                    s=30,
                    label=label if first else None,
                    zorder=3,
                )
                first = False
    if benchmark is not None and benchmark in intervals.index:
        ax.axvline(
            float(intervals.loc[benchmark, "sharpe"]),
            color="0.5",
            linestyle="--",
            linewidth=1.0,
            label=benchmark,
        )
    ax.set_yticks(y, [str(i) for i in intervals.index])
    ax.set_xlabel("annualised Sharpe ratio")
    ax.set_title("Sharpe ratios and their uncertainty")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="small")
    return fig


def metrics_table(table: pd.DataFrame, *, digits: int = 3) -> Figure:
    """A strategies x metrics table drawn as a figure."""
    fig = _figure(min(2.0 + 1.3 * len(table.columns), 22.0), 0.45 * len(table) + 1.0)
    ax = fig.add_subplot()
    ax.axis("off")
    cells = [[f"{v:.{digits}f}" for v in row] for row in table.to_numpy(dtype=float)]
    drawn = ax.table(
        cellText=cells,
        rowLabels=[str(i) for i in table.index],
        colLabels=[str(c).replace("_", " ") for c in table.columns],
        loc="center",
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(8)
    drawn.scale(1.0, 1.3)
    return fig


__all__ = [
    "drawdowns",
    "equity_curves",
    "held_weights",
    "metrics_table",
    "sharpe_intervals",
    "training_curves",
    "weights_area",
    "weights_heatmap",
]
