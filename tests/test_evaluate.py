import functools

import numpy as np
import pandas as pd
import pytest
import torch

from deepalloc.baselines import InverseVolatility
from deepalloc.data import make_windows, synthetic_market, walk_forward_folds
from deepalloc.evaluate import BaselineStrategy, NetworkStrategy, asset_returns, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet


@pytest.fixture(scope="module")
def setup():
    returns = synthetic_market(700, 5, seed=4, momentum=0.3)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(
        windows, test_size=150, initial_train=300, train_size=250, val_size=50
    )
    strategies = [
        NetworkStrategy(
            "dense",
            lambda c, a, lb: DenseNet(c, lb, hidden=(8, 4)),
            SharpeLoss(),
            {"epochs": 3, "optimizer": functools.partial(torch.optim.Adam, lr=1e-2)},
        ),
        BaselineStrategy("inverse_volatility", InverseVolatility()),
    ]
    return returns, windows, folds, strategies


def test_suite_tables_weights_and_folds(setup):
    returns, windows, folds, strategies = setup
    result = run_suite(windows, strategies, folds, costs_bps=5, seed=1)
    assert list(result.table.index) == ["dense", "inverse_volatility", "equal_weight"]
    assert (result.vs_equal_weight.loc["equal_weight"] == 0).all()
    np.testing.assert_allclose(
        result.comparison()["sharpe_ratio vs EW"],
        result.table["sharpe_ratio"] - result.table.loc["equal_weight", "sharpe_ratio"],
    )
    test_dates = windows.timestamps[np.concatenate([f.test for f in folds])]
    for weights in result.weights.values():
        assert weights.index.equals(test_dates)
    assert len(result.fold_tables) == len(folds)
    assert set(result.histories["fold"]) == set(range(len(folds)))
    # the equal-weight backtest is an independent constant-mix computation (costs aside)
    ew = result.backtests["equal_weight"].returns
    expected = returns.loc[ew.index[1:]].mean(axis=1).to_numpy()
    np.testing.assert_allclose(ew.iloc[1:].to_numpy(), expected, atol=5e-4 * 2)
    pd.testing.assert_frame_equal(
        asset_returns(windows), returns, check_freq=False, check_names=False
    )


def test_parallel_equals_serial(setup):
    _, windows, folds, strategies = setup
    serial = run_suite(windows, strategies, folds, costs_bps=5, seed=1)
    parallel = run_suite(windows, strategies, folds, costs_bps=5, seed=1, n_jobs=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
    for name in serial.weights:
        pd.testing.assert_frame_equal(
            serial.weights[name], parallel.weights[name], check_exact=True
        )


def test_ray_backend_equals_serial(setup):
    ray = pytest.importorskip("ray")
    _, windows, folds, strategies = setup
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_suite(windows, strategies, folds, costs_bps=5, seed=1, n_jobs=2, backend="ray")
    finally:
        ray.shutdown()
    serial = run_suite(windows, strategies, folds, costs_bps=5, seed=1)
    pd.testing.assert_frame_equal(serial.table, on_ray.table, check_exact=True)


def test_suite_from_a_returns_frame(setup):
    returns, windows, folds, strategies = setup
    from_windows = run_suite(windows, strategies[1:], folds)
    from_frame = run_suite(
        returns,
        strategies[1:],
        lambda w: walk_forward_folds(
            w, test_size=150, initial_train=300, train_size=250, val_size=50
        ),
        lookback=20,
        horizon=5,
    )
    pd.testing.assert_frame_equal(from_windows.table, from_frame.table)
    with pytest.raises(ValueError, match="lookback, horizon"):
        run_suite(returns, strategies[1:], folds)


def test_bad_suites(setup):
    _, windows, folds, strategies = setup
    with pytest.raises(ValueError, match="unique names"):
        run_suite(windows, [strategies[1], strategies[1]], folds)
    with pytest.raises(ValueError, match="at least one fold"):
        run_suite(windows, strategies, [])
