import numpy as np
import pandas as pd
import pytest
import torch

from deepalloc.baselines import InverseVolatility
from deepalloc.data import walk_forward_folds
from deepalloc.evaluate import BaselineStrategy, asset_returns, run_suite


def test_suite_tables_weights_and_folds(setup):
    returns, windows, folds, strategies = setup
    result = run_suite(windows, strategies, folds, returns=returns, costs_bps=5, seed=1)
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
        asset_returns(windows), returns, check_freq=False, check_names=False, atol=1e-9
    )


def test_parallel_equals_serial(setup):
    returns, windows, folds, strategies = setup
    serial = run_suite(windows, strategies, folds, returns=returns, costs_bps=5, seed=1)
    parallel = run_suite(windows, strategies, folds, returns=returns, costs_bps=5, seed=1, n_jobs=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
    for name in serial.weights:
        pd.testing.assert_frame_equal(
            serial.weights[name], parallel.weights[name], check_exact=True
        )


def test_ray_backend_equals_serial(setup):
    ray = pytest.importorskip("ray")
    returns, windows, folds, strategies = setup
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_suite(
            windows,
            strategies,
            folds,
            returns=returns,
            costs_bps=5,
            seed=1,
            n_jobs=2,
            backend="ray",
        )
    finally:
        ray.shutdown()
    serial = run_suite(windows, strategies, folds, returns=returns, costs_bps=5, seed=1)
    pd.testing.assert_frame_equal(serial.table, on_ray.table, check_exact=True)


def test_suite_from_a_returns_frame(setup):
    returns, windows, folds, strategies = setup
    from_windows = run_suite(windows, strategies[1:], folds, returns=returns)
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
    with pytest.warns(UserWarning, match="pass the returns frame to keep full precision"):
        from_targets = run_suite(windows, strategies[1:], folds)
    # float32 targets: the same backtest up to single precision
    pd.testing.assert_frame_equal(from_targets.table, from_windows.table, rtol=1e-4)


def test_bad_suites(setup):
    returns, windows, folds, strategies = setup
    with pytest.raises(ValueError, match="unique names"):
        run_suite(windows, [strategies[1], strategies[1]], folds, returns=returns)
    with pytest.raises(ValueError, match="at least one fold"):
        run_suite(windows, strategies, [], returns=returns)
    with pytest.raises(ValueError, match="seeds: expected a positive integer"):
        run_suite(windows, strategies, folds, returns=returns, seeds=0)
    with pytest.raises(ValueError, match="names without ':'"):
        run_suite(windows, [BaselineStrategy("a:b", InverseVolatility())], folds, returns=returns)


def test_global_generator_and_threads_are_left_as_they_were(setup):
    returns, windows, folds, strategies = setup
    torch.manual_seed(123)
    state, threads = torch.get_rng_state(), torch.get_num_threads()
    run_suite(windows, strategies, folds, returns=returns, seed=1, threads_per_fold=1)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


class ThreadProbe(torch.nn.Module):
    """A baseline that fails unless its fold runs with the expected thread counts."""

    def __init__(self, expected: int):
        super().__init__()
        self.expected = expected

    def forward(self, x):
        from threadpoolctl import threadpool_info

        blas = {info["num_threads"] for info in threadpool_info()}
        if torch.get_num_threads() != self.expected or blas - {self.expected}:
            raise RuntimeError(
                f"expected {self.expected} threads, got torch {torch.get_num_threads()}, "
                f"BLAS/OpenMP {sorted(blas)}"
            )
        return torch.full((x.shape[0], x.shape[2]), 1.0 / x.shape[2], dtype=x.dtype)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_each_fold_runs_with_the_thread_count_it_was_given(setup, n_jobs):
    returns, windows, folds, _ = setup
    probe = [BaselineStrategy("probe", ThreadProbe(1))]
    result = run_suite(windows, probe, folds, returns=returns, n_jobs=n_jobs, threads_per_fold=1)
    assert "probe" in result.table.index
    if torch.get_num_threads() > 1:  # the probe really checks something on this machine
        with pytest.raises(RuntimeError, match="expected 1 threads"):
            run_suite(windows, probe, folds, returns=returns, threads_per_fold=None)
