"""Several seeds per network: per-seed rows, an ensemble row, a spread, and the same
numbers serially and in parallel."""

import numpy as np
import pandas as pd

from deepalloc.backtest import backtest
from deepalloc.evaluation import run_suite


def test_seeds_give_per_seed_rows_an_ensemble_and_a_spread(setup):
    returns, windows, folds, strategies = setup
    result = run_suite(windows, strategies, folds, returns=returns, seeds=3, costs_bps=5)
    runs = ["dense:seed0", "dense:seed1", "dense:seed2"]
    assert result.seed_runs == {"dense": runs}
    assert set(result.table.index) == {
        *runs,
        "dense:ensemble",
        "inverse_volatility",
        "equal_weight",
    }
    # different seeds train different networks
    assert not result.weights["dense:seed0"].equals(result.weights["dense:seed1"])
    # the ensemble is the backtest of the seeds' averaged weights
    averaged = sum(result.weights[r] for r in runs) / 3
    pd.testing.assert_frame_equal(result.weights["dense:ensemble"], averaged)
    direct = backtest(averaged, returns, costs_bps=5).summary(name="x")["x"]
    pd.testing.assert_series_equal(result.table.loc["dense:ensemble"], direct, check_names=False)
    spread = result.seed_summary()
    sharpes = result.table.loc[runs, "sharpe_ratio"].to_numpy()
    assert np.isclose(spread.loc[("dense", "mean"), "sharpe_ratio"], sharpes.mean())
    assert np.isclose(spread.loc[("dense", "std"), "sharpe_ratio"], sharpes.std(ddof=1))
    assert set(result.histories["seed"]) == {0, 1, 2}


def test_seeds_serial_and_parallel_are_bit_identical(setup):
    returns, windows, folds, strategies = setup
    serial = run_suite(windows, strategies, folds, returns=returns, seeds=2, seed=7)
    parallel = run_suite(windows, strategies, folds, returns=returns, seeds=2, seed=7, n_jobs=2)
    pd.testing.assert_frame_equal(serial.table, parallel.table, check_exact=True)
    for name, weights in serial.weights.items():
        pd.testing.assert_frame_equal(weights, parallel.weights[name], check_exact=True)
