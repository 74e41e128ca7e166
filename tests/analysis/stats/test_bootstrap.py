"""Block bootstrap indices, automatic block lengths and percentile intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deepalloc.metrics import max_drawdown, sharpe_ratio
from deepalloc.stats import automatic_block_length, block_bootstrap_indices, bootstrap_ci

RTOL = 1e-10


def vector_sharpe(frame: pd.DataFrame) -> np.ndarray:
    values = frame.to_numpy()
    return values.mean(axis=0) / values.std(axis=0, ddof=1)


def test_interval_is_the_percentiles_of_the_metric_on_the_resamples(sp500_pair):
    """Reference: the same indices (same seed), the metric called resample by resample
    on a Series with the original dates, and NumPy percentiles."""
    a, _ = sp500_pair
    a = a.iloc[-500:]
    got = bootstrap_ci(a, sharpe_ratio, method="circular", block_length=5, n_boot=300, seed=8)
    idx = block_bootstrap_indices(len(a), 300, method="circular", block_length=5, seed=8)
    reps = np.array([sharpe_ratio(pd.Series(a.to_numpy()[i], index=a.index)) for i in idx])
    assert got.estimate == pytest.approx(sharpe_ratio(a), rel=RTOL)
    assert np.allclose(got.replicates, reps, rtol=RTOL, atol=0)
    assert (got.ci_low, got.ci_high) == pytest.approx(
        tuple(np.percentile(reps, [2.5, 97.5])), rel=RTOL
    )
    assert got.standard_error == pytest.approx(np.std(reps, ddof=1), rel=RTOL)


def test_vectorized_metric_gives_the_same_replicates(simulated_pair):
    x, _ = simulated_pair
    slow = bootstrap_ci(x, lambda s: s.mean() / s.std(), n_boot=200, seed=1, block_length=4.0)
    fast = bootstrap_ci(x, vector_sharpe, n_boot=200, seed=1, block_length=4.0, vectorized=True)
    assert np.allclose(slow.replicates, fast.replicates, rtol=RTOL, atol=0)


def test_metric_sees_the_original_dates(sp500_pair):
    """A metric that infers periods per year from the index works on every resample."""
    a, _ = sp500_pair
    got = bootstrap_ci(a, sharpe_ratio, n_boot=50, seed=0)
    direct = bootstrap_ci(a, lambda s: sharpe_ratio(s, periods_per_year=252), n_boot=50, seed=0)
    assert np.array_equal(got.replicates, direct.replicates)
    seen = []
    bootstrap_ci(
        a,
        lambda s: seen.append(s.index.equals(a.index) and s.name == a.name) or 0.0,
        n_boot=5,
        seed=0,
    )
    assert seen == [True] * 6  # the estimate and five resamples


def test_order_dependent_metric(sp500_pair):
    """Blocks keep the order inside them: with one block as long as the series, each
    resample is a rotation of it, whose drawdown the reference recomputes."""
    a, _ = sp500_pair
    a = a.iloc[-300:]
    got = bootstrap_ci(a, max_drawdown, method="circular", block_length=300, n_boot=20, seed=2)
    starts = block_bootstrap_indices(300, 20, method="circular", block_length=300, seed=2)[:, 0]
    values = a.to_numpy()
    expected = [max_drawdown(pd.Series(np.roll(values, -s), index=a.index)) for s in starts]
    assert got.estimate == pytest.approx(max_drawdown(a), rel=RTOL)
    assert np.allclose(got.replicates, expected, rtol=RTOL, atol=0)


def test_stationary_blocks_have_geometric_lengths():
    """Breaks (a step other than +1 mod n) occur with probability 1/b at every position:
    over 2 million steps the rate's sd is below 0.03%, so 5 sd is 0.15%."""
    n, b = 400, 8.0
    idx = block_bootstrap_indices(n, 5000, method="stationary", block_length=b, seed=4)
    steps = np.diff(idx, axis=1) % n
    # a new block whose start happens to be the next index is invisible: rate 1/b (1 - 1/n)
    assert np.mean(steps != 1) == pytest.approx((1 / b) * (1 - 1 / n), abs=0.0015)
    # every index is equally likely; a block holds an index at most once, so a count is
    # a sum of independent Bernoullis over blocks, with variance below its mean: 5 sd
    counts = np.bincount(idx.reshape(-1), minlength=n)
    expected = idx.size / n
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))


def test_automatic_block_length():
    rng = np.random.default_rng(0)
    white = rng.normal(size=3000)
    assert automatic_block_length(white) < 3
    ar = np.empty(3000)
    ar[0] = 0
    for t in range(1, 3000):
        ar[t] = 0.7 * ar[t - 1] + white[t]
    # AR(1): optimal stationary-bootstrap length grows as n^(1/3); far above white noise
    long = automatic_block_length(ar)
    assert 5 < long <= math.ceil(3 * math.sqrt(3000))
    circular = automatic_block_length(ar, method="circular")
    assert circular == math.ceil(circular) and circular >= long  # D_CB < D_SB
    assert automatic_block_length(np.column_stack([white, ar])) == pytest.approx(long)


def test_seeds_reproduce_and_leave_the_global_rng(simulated_pair):
    x, _ = simulated_pair
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the global RNG is untouched)
    one = bootstrap_ci(x, vector_sharpe, vectorized=True, n_boot=100, seed=12)
    two = bootstrap_ci(
        x, vector_sharpe, vectorized=True, n_boot=100, seed=np.random.default_rng(12)
    )
    assert np.array_equal(one.replicates, two.replicates)
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_validation(simulated_pair):
    x, _ = simulated_pair
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci(x, np.mean, method="moving")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="block_length"):
        bootstrap_ci(x, np.mean, method="circular", block_length=2.5)
    with pytest.raises(ValueError, match="block_length"):
        bootstrap_ci(x, np.mean, block_length=len(x) + 1.0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(x, np.mean, confidence=95)
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_ci(x, lambda s: np.nan, n_boot=10, seed=0)
    with pytest.raises(ValueError, match="one value per resample"):
        bootstrap_ci(x, lambda f: 1.0, n_boot=10, seed=0, vectorized=True)


def _coverage(n_series, n_obs, method, seed):
    rng = np.random.default_rng(seed)
    draws = rng.normal(0.1, 1.0, size=(n_series, n_obs))
    hits = []
    for i, r in enumerate(draws):
        ci = bootstrap_ci(r, vector_sharpe, method=method, n_boot=999, seed=i, vectorized=True)
        hits.append(ci.ci_low <= 0.1 <= ci.ci_high)
    return np.mean(hits)


def test_bootstrap_interval_coverage_quick():
    """200 iid normal series of 500 returns, true per-period Sharpe 0.1: the 95%
    stationary-bootstrap intervals cover it in 90-99.5% (binomial sd 1.5%: 3 sd)."""
    assert 0.90 <= _coverage(200, 500, "stationary", 31) <= 0.995


@pytest.mark.slow
@pytest.mark.parametrize("method", ["stationary", "circular"])
def test_bootstrap_interval_coverage(method):
    """1,000 series: coverage of the 95% intervals in 93-97% (binomial sd 0.7%)."""
    assert 0.93 <= _coverage(1000, 500, method, 32) <= 0.97
