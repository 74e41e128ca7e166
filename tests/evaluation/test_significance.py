"""Significance of a suite's strategies against equal weight, and its verdict lines."""

import math

import numpy as np
import pandas as pd
import pytest

from deepalloc import stats
from deepalloc.baselines import InverseVolatility, SingleAsset
from deepalloc.data import (
    combinatorial_purged_folds,
    cpcv_paths,
    make_windows,
    walk_forward_folds,
)
from deepalloc.evaluation import BaselineStrategy, run_suite


def market(drift: float, seed: int = 0) -> pd.DataFrame:
    """Four assets; asset a0 has a per-day drift ``drift`` on top of common noise."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 0.01, size=(900, 4))
    values[:, 0] = drift + rng.normal(0.0, 0.005, size=900)
    index = pd.bdate_range("2015-01-01", periods=900, name="date")
    return pd.DataFrame(values, index=index, columns=[f"a{i}" for i in range(4)])


def suite(returns: pd.DataFrame, **kw):
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(windows, test_size=200, initial_train=200)
    strategies = [
        BaselineStrategy("single_a0", SingleAsset(0)),
        BaselineStrategy("inverse_volatility", InverseVolatility()),
    ]
    return run_suite(windows, strategies, folds, returns=returns, **kw)


def test_the_table_equals_the_statistics_computed_directly():
    result = suite(market(0.0005))
    table = result.significance()
    assert list(table.index) == ["single_a0", "inverse_volatility"]
    a = result.backtests["single_a0"].returns
    b = result.backtests["equal_weight"].returns
    scale = math.sqrt(252)
    test = stats.sharpe_difference_test(a, b, method="ledoit_wolf")
    row = table.loc["single_a0"]
    assert row["sharpe_difference"] == pytest.approx(test.difference * scale, rel=1e-12)
    assert row["ci_low"] == pytest.approx(test.ci_low * scale, rel=1e-12)
    assert row["p_value"] == pytest.approx(test.p_value, rel=1e-12)
    holm = stats.holm(table["p_value"].astype(float).to_numpy())
    np.testing.assert_allclose(table["holm_p_value"].astype(float), holm)
    assert row["psr"] == pytest.approx(stats.probabilistic_sharpe_ratio(a), rel=1e-12)
    bench_sr = stats.per_period_sharpe(b)
    assert row["psr_vs_benchmark"] == pytest.approx(
        stats.probabilistic_sharpe_ratio(a, benchmark=bench_sr), rel=1e-12
    )
    # two trials besides the benchmark: their Sharpe ratios' variance deflates the PSR
    sharpes = [stats.per_period_sharpe(result.backtests[n].returns) for n in table.index]
    dsr = stats.deflated_sharpe_ratio(
        a, n_trials=2, trials_sharpe_variance=float(np.var(sharpes, ddof=1))
    )
    assert row["dsr"] == pytest.approx(dsr, rel=1e-12)
    assert result.significance(n_trials=50).loc["single_a0", "dsr"] < row["dsr"]


def test_the_verdict_follows_the_p_values():
    noise = suite(market(0.0)).significance().loc["single_a0"]
    assert noise["holm_p_value"] > 0.05
    assert "no evidence" in noise["verdict"]
    dominant = suite(market(0.003)).significance().loc["single_a0"]
    assert dominant["holm_p_value"] < 0.05 and dominant["sharpe_difference"] > 0
    assert dominant["verdict"].startswith("single_a0 vs equal_weight: Sharpe +")
    assert "significant outperformance" in dominant["verdict"]
    assert f"p = {dominant['p_value']:.2f}" in dominant["verdict"]
    losing = suite(market(-0.003)).significance().loc["single_a0"]
    assert "significant underperformance" in losing["verdict"]


def test_cpcv_paths_give_a_distribution_per_strategy():
    returns = market(0.0005)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = combinatorial_purged_folds(windows, n_groups=5, n_test_groups=2)
    paths = cpcv_paths(folds, 5, 2)
    strategies = [BaselineStrategy("single_a0", SingleAsset(0))]
    result = run_suite(windows, strategies, folds, returns=returns, paths=paths)
    assert len(paths) == 4  # C(5, 2) * 2 / 5
    assert set(result.path_tables.index.get_level_values("path")) == {0, 1, 2, 3}
    sharpes = result.path_tables.xs("single_a0", level="strategy")["sharpe_ratio"]
    # baselines are not trained: every path holds the same weights, hence the same Sharpe
    np.testing.assert_allclose(sharpes, sharpes.iloc[0])
    assert result.table.loc["single_a0", "sharpe_ratio"] == pytest.approx(sharpes.mean())
    dates = windows.timestamps[paths[0].samples]
    assert result.weights["single_a0"].index.equals(dates)


def test_each_cpcv_path_takes_each_group_from_its_own_fold(setup):
    returns, windows, _, strategies = setup
    folds = combinatorial_purged_folds(windows, n_groups=4, n_test_groups=2, val_size=40)
    paths = cpcv_paths(folds, 4, 2)
    result = run_suite(windows, strategies[:1], folds, returns=returns, paths=paths)
    per_fold = run_suite(windows, strategies[:1], folds[:1], returns=returns)
    first_fold, samples = next((f, s) for f, s in paths[0].pieces() if f == 0)
    dates = windows.timestamps[samples]
    pd.testing.assert_frame_equal(
        result.weights["dense"].loc[dates], per_fold.weights["dense"].loc[dates]
    )
    sharpes = result.path_tables.xs("dense", level="strategy")["sharpe_ratio"]
    assert sharpes.nunique() == len(paths)  # trained models differ from path to path
