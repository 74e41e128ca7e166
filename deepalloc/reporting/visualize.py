"""Plots of backtests, weights, training and metrics.

Every function returns a ``matplotlib.figure.Figure`` built without pyplot: no
``plt.show()``, no global style or state touched; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
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


def weights_area(weights: pd.DataFrame, *, title: str = "Weights") -> Figure:
    """Stacked area of long-only weights over time (date x asset)."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.stackplot(weights.index, weights.to_numpy().T, labels=[str(c) for c in weights.columns])
    ax.set_ylim(0, max(1.0, float(weights.sum(axis=1).max())))
    ax.set_title(title)
    ax.legend(
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize="x-small",
        ncol=1 + len(weights.columns) // 25,
    )
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


def training_curves(history: pd.DataFrame, *, metric: str = "loss") -> Figure:
    """Training and validation ``metric`` by epoch; one line per (strategy, fold, split)."""
    fig = _figure()
    ax = fig.add_subplot()
    rows = history[history["metric"] == metric]
    keys = [k for k in ("strategy", "fold", "split") if k in rows.columns]
    for key, part in rows.groupby(keys):
        label = " / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        style = "--" if "val" in label else "-"
        ax.plot(part["epoch"], part["value"], style, linewidth=1.0, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(f"Training curves ({metric})")
    if len(ax.lines) <= 12:
        ax.legend(fontsize="x-small")
    ax.grid(alpha=0.3)
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
    "metrics_table",
    "training_curves",
    "weights_area",
    "weights_heatmap",
]
