import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from deepalloc import visualize
from deepalloc.backtest import backtest
from deepalloc.baselines import InverseVolatility
from deepalloc.data import make_windows, synthetic_market, walk_forward_folds
from deepalloc.evaluate import BaselineStrategy, NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet
from deepalloc.report import report


@pytest.fixture(scope="module")
def suite():
    returns = synthetic_market(500, 4, seed=5)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(windows, test_size=100, initial_train=250, val_size=40)
    strategies = [
        NetworkStrategy(
            "dense", lambda c, a, lb: DenseNet(c, lb, hidden=(8, 4)), SharpeLoss(), {"epochs": 2}
        ),
        BaselineStrategy("inverse vol", InverseVolatility()),
    ]
    return run_suite(windows, strategies, folds, costs_bps=10)


def test_every_plot_is_a_figure_and_global_state_untouched(suite):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    figs = [
        visualize.equity_curves(suite.backtests),
        visualize.drawdowns(suite.backtests),
        visualize.weights_area(suite.weights["dense"]),
        visualize.weights_heatmap(suite.weights["dense"]),
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
    wealth = suite.backtests["equal_weight"].wealth
    assert list(lines[-1].get_ydata()) == pytest.approx(list(wealth.to_numpy()))


def test_report_folder(suite, tmp_path):
    index = report(suite, tmp_path / "out")
    folder = index.parent
    for name in (
        "metrics.csv",
        "comparison.csv",
        "folds.csv",
        "equity_curves.png",
        "drawdowns.png",
        "metrics_table.png",
        "training_curves.png",
    ):
        assert (folder / name).exists(), name
    assert (folder / "weights" / "inverse_vol.csv").exists()
    metrics = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(
        metrics, suite.table, check_names=False, check_exact=False, rtol=1e-12
    )
    text = index.read_text()
    assert "| equal_weight |" in text and "![equity_curves.png](equity_curves.png)" in text
    assert len(list(folder.glob("*.png"))) >= 5


def test_backtest_plot_for_external_weights():
    returns = synthetic_market(100, 3, seed=1)
    weights = pd.DataFrame(1 / 3, index=returns.index[:50], columns=returns.columns)
    fig = visualize.drawdowns({"ew": backtest(weights, returns)})
    assert isinstance(fig, Figure)
