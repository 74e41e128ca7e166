"""Figures: what each one draws (panels, lines, labels, values), not only that it runs."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from deepalloc import visualize
from deepalloc.backtest import backtest
from deepalloc.data import synthetic_market


def test_every_plot_is_a_figure_and_global_state_untouched(suite):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    figs = [
        visualize.equity_curves(suite.backtests),
        visualize.drawdowns(suite.backtests),
        visualize.weights_area(suite.weights["dense:seed0"]),
        visualize.weights_heatmap(suite.weights["dense:seed0"]),
        visualize.held_weights(suite.backtests["dense:seed0"]),
        visualize.training_curves(suite.histories),
        visualize.metrics_table(suite.table),
    ]
    for fig in figs:
        assert isinstance(fig, Figure)
        assert fig.axes
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend
    lines = figs[0].axes[0].get_lines()
    assert len(lines) == len(suite.backtests)
    assert [line.get_label() for line in lines] == list(suite.backtests)
    wealth = suite.backtests["equal_weight"].wealth
    assert list(lines[3].get_ydata()) == pytest.approx(list(wealth.to_numpy()))


def _stack_tops(ax, dates):
    """The stacked areas and the upper edge of each (its highest vertex at each date)."""
    from matplotlib.dates import date2num

    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    xs = date2num(dates)
    tops = []
    for poly in polys:
        v = poly.get_paths()[0].vertices
        tops.append(np.array([v[np.isclose(v[:, 0], x), 1].max() for x in xs]))
    return polys, tops


def test_held_weights_draws_the_backtest_holdings_and_its_trades(suite):
    res = suite.backtests["dense:seed0"]
    fig = visualize.held_weights(res, title="held")
    top, bottom = fig.axes[:2]
    polys, tops = _stack_tops(top, res.holdings.index)
    assert len(polys) == res.holdings.shape[1]
    labels = [t.get_text() for t in top.get_legend().get_texts()]
    assert labels == [str(c) for c in res.holdings.columns][::-1]  # top of the stack first
    # each area's top edge is the cumulative sum of the holdings up to its asset
    cumulative = res.holdings.cumsum(axis=1).to_numpy()
    for k, edge in enumerate(tops):
        np.testing.assert_allclose(edge, cumulative[:, k], atol=1e-12)
    # monthly rebalancing: the held weights drift between trades, unlike the decisions
    trades = res.turnover[res.turnover > 0]
    assert len(trades) < len(res.holdings) / 5
    assert res.holdings.diff().abs().sum(axis=1).iloc[1:].gt(0).mean() > 0.9
    segments = next(c for c in bottom.collections if isinstance(c, LineCollection))
    heights = [seg[1, 1] for seg in segments.get_segments()]
    np.testing.assert_allclose(heights, trades.to_numpy())
    assert bottom.get_title() == f"{len(trades)} trade(s)"


def test_weights_area_tells_25_assets_apart():
    n = 25
    rng = np.random.default_rng(0)
    raw = rng.dirichlet(np.ones(n), size=30)
    index = pd.bdate_range("2021-01-01", periods=30)
    weights = pd.DataFrame(raw, index=index, columns=[f"asset{i}" for i in range(n)])
    ax = visualize.weights_area(weights).axes[0]
    polys = [c for c in ax.collections if isinstance(c, PolyCollection)]
    colours = {tuple(np.round(p.get_facecolor()[0], 6)) for p in polys}
    assert len(polys) == n and len(colours) == n
    assert [p.get_hatch() or "" for p in polys][:20] == [""] * 20
    assert all(p.get_hatch() for p in polys[20:])
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == list(weights.columns)[::-1]


def test_training_curves_one_panel_per_network_with_labelled_folds(suite):
    labels = ["2019", "2020", "2021"]
    fig = visualize.training_curves(suite.histories, fold_labels=labels)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 1  # one network, "dense", trained with two seeds
    ax = panels[0]
    assert ax.get_title() == "dense (2 seeds per fold)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [*labels, "training", "validation"]
    # a line per (seed, fold, split): 2 x 3 x 2
    assert len(ax.get_lines()) == 12
    loss = suite.histories[suite.histories["metric"] == "loss"]
    styles = {line.get_linestyle() for line in ax.get_lines()}
    assert styles == {"-", "--"}
    # every curve is one of the history's (run, fold, split) series
    series = {
        tuple(np.round(part["value"].to_numpy(), 12))
        for _, part in loss.groupby(["strategy", "fold", "split"])
    }
    drawn = {tuple(np.round(np.asarray(line.get_ydata(), float), 12)) for line in ax.get_lines()}
    assert drawn == series


def test_training_curves_several_networks_and_default_labels():
    rows = []
    for name in ("lstm", "tcn", "dense"):
        for fold in (0, 1):
            for split in ("train", "val"):
                for epoch in (1, 2, 3):
                    rows.append((epoch, split, "loss", float(epoch), name, fold, 0))
    history = pd.DataFrame(
        rows, columns=["epoch", "split", "metric", "value", "strategy", "fold", "seed"]
    )
    fig = visualize.training_curves(history)
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in panels] == ["lstm", "tcn", "dense"]
    for ax in panels:
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "fold 0",
            "fold 1",
            "training",
            "validation",
        ]
        assert len(ax.get_lines()) == 4
    with pytest.raises(ValueError, match="fold_labels"):
        visualize.training_curves(history, fold_labels=["2019"])
    with pytest.raises(ValueError, match="metric"):
        visualize.training_curves(history, metric="sharpe")


def test_sharpe_intervals_draws_each_interval_and_the_spreads():
    intervals = pd.DataFrame(
        {"sharpe": [0.5, 0.8, 0.7], "ci_low": [0.1, 0.2, 0.3], "ci_high": [0.9, 1.4, 1.1]},
        index=["net:ensemble", "equal_weight", "min_var"],
    )
    seeds = {"net:ensemble": [0.4, 0.6, 0.55]}
    paths = {"min_var": [0.6, 0.7, 0.75, 0.8]}
    fig = visualize.sharpe_intervals(intervals, benchmark="equal_weight", seeds=seeds, paths=paths)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(intervals.index)
    bars = next(c for c in ax.collections if isinstance(c, LineCollection))
    spans = sorted((seg[0, 0], seg[1, 0]) for seg in bars.get_segments())
    expected = sorted(zip(intervals["ci_low"], intervals["ci_high"]))
    np.testing.assert_allclose(spans, expected, atol=1e-15)  # sharpe -/+ (sharpe - low)
    scatters = [c for c in ax.collections if c.get_label() in ("seeds", "CPCV paths")]
    by_label = {c.get_label(): c.get_offsets()[:, 0] for c in scatters}
    np.testing.assert_allclose(by_label["seeds"], seeds["net:ensemble"])
    np.testing.assert_allclose(by_label["CPCV paths"], paths["min_var"])
    reference = [line for line in ax.get_lines() if line.get_label() == "equal_weight"]
    assert reference and reference[0].get_xdata()[0] == pytest.approx(0.8)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(legend) == {"Sharpe ratio, 95% interval", "seeds", "CPCV paths", "equal_weight"}


def test_backtest_plot_for_external_weights():
    returns = synthetic_market(100, 3, seed=1)
    weights = pd.DataFrame(1 / 3, index=returns.index[:50], columns=returns.columns)
    res = backtest(weights, returns)
    fig = visualize.drawdowns({"ew": res})
    (line,) = fig.axes[0].get_lines()
    assert line.get_label() == "ew"
    np.testing.assert_allclose(line.get_ydata(), 100 * res.drawdown.to_numpy())
