"""Sharpe difference tests against the papers' formulas written out here, and their size.

References: Ledoit and Wolf (2008), Section 3.1 (delta method + Parzen/Andrews HAC) and
Section 3.2 (studentized circular block bootstrap), written with explicit 4 x 4
matrices as in the paper; Jobson and Korkie (1981) with Memmel's (2003) correction.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from deepalloc.stats import block_bootstrap_indices, sharpe_difference_test

RTOL = 1e-10


def ref_sharpe(r):
    return r.mean() / r.std(ddof=1)


def ref_gradient(x, y):
    a, b, c, d = x.mean(), y.mean(), (x**2).mean(), (y**2).mean()
    return np.array(
        [
            c / (c - a**2) ** 1.5,
            -d / (d - b**2) ** 1.5,
            -0.5 * a / (c - a**2) ** 1.5,
            0.5 * b / (d - b**2) ** 1.5,
        ]
    )


def ref_moment_series(x, y):
    return np.column_stack([x - x.mean(), y - y.mean(), x**2 - (x**2).mean(), y**2 - (y**2).mean()])


def ref_parzen(z):
    z = abs(z)
    return 1 - 6 * z**2 + 6 * z**3 if z <= 0.5 else (2 * (1 - z) ** 3 if z <= 1 else 0.0)


def ref_lw_se(x, y):
    v = ref_moment_series(x, y)
    n = len(v)
    num = den = 0.0
    for i in range(4):  # Andrews (1991) AR(1) plug-in, one column at a time, by lstsq
        col = v[:, i]
        rho = np.linalg.lstsq(col[:-1, None], col[1:], rcond=None)[0][0]
        sig2 = np.mean((col[1:] - rho * col[:-1]) ** 2)
        num += 4 * rho**2 * sig2**2 / (1 - rho) ** 8
        den += sig2**2 / (1 - rho) ** 4
    bandwidth = 2.6614 * (num / den * n) ** 0.2
    psi = np.zeros((4, 4))
    for j in range(-n + 1, n):
        weight = ref_parzen(j / bandwidth)
        if weight == 0.0:
            continue
        gamma = sum(np.outer(v[t], v[t - abs(j)]) for t in range(abs(j), n)) / n
        psi += weight * (gamma if j >= 0 else gamma.T)
    psi *= n / (n - 4)
    g = ref_gradient(x, y)
    return math.sqrt(g @ psi @ g / n)


def ref_block_se(x, y, b):
    v = ref_moment_series(x, y)
    n_blocks = len(x) // b
    psi = np.zeros((4, 4))
    for j in range(n_blocks):
        zeta = math.sqrt(b) * v[j * b : (j + 1) * b].mean(axis=0)
        psi += np.outer(zeta, zeta)
    psi /= n_blocks
    g = ref_gradient(x, y)
    return math.sqrt(g @ psi @ g / len(x))


def test_ledoit_wolf_hac(pair_case):
    a, b = pair_case
    x, y = np.asarray(a), np.asarray(b)
    got = sharpe_difference_test(a, b, method="ledoit_wolf", confidence=0.9)
    diff = ref_sharpe(x) - ref_sharpe(y)
    se = ref_lw_se(x, y)
    assert got.difference == pytest.approx(diff, rel=RTOL)
    assert got.standard_error == pytest.approx(se, rel=RTOL)
    assert got.p_value == pytest.approx(2 * stats.norm.sf(abs(diff) / se), rel=RTOL)
    half = stats.norm.ppf(0.95) * se
    assert (got.ci_low, got.ci_high) == pytest.approx((diff - half, diff + half), rel=RTOL)
    assert (got.sharpe_a, got.sharpe_b) == pytest.approx((ref_sharpe(x), ref_sharpe(y)), rel=RTOL)


def test_jobson_korkie_memmel(pair_case):
    a, b = pair_case
    x, y = np.asarray(a), np.asarray(b)
    got = sharpe_difference_test(a, b, method="jobson_korkie_memmel")
    sa, sb = ref_sharpe(x), ref_sharpe(y)
    rho = np.cov(x, y)[0, 1] / math.sqrt(np.var(x, ddof=1) * np.var(y, ddof=1))
    se = math.sqrt((2 - 2 * rho + 0.5 * (sa**2 + sb**2 - 2 * sa * sb * rho**2)) / len(x))
    assert got.standard_error == pytest.approx(se, rel=RTOL)
    assert got.p_value == pytest.approx(2 * stats.norm.sf(abs(sa - sb) / se), rel=RTOL)
    assert got.ci_high - got.ci_low == pytest.approx(2 * stats.norm.ppf(0.975) * se, rel=RTOL)


@pytest.mark.parametrize("block", [1, 7])
def test_studentized_bootstrap(pair_case, block):
    a, b = pair_case
    x, y = np.asarray(a)[:600], np.asarray(b)[:600]
    n_boot = 199
    got = sharpe_difference_test(
        x, y, method="bootstrap", block_length=block, n_boot=n_boot, seed=5, confidence=0.9
    )
    idx = block_bootstrap_indices(len(x), n_boot, method="circular", block_length=block, seed=5)
    diff = ref_sharpe(x) - ref_sharpe(y)
    se = ref_block_se(x, y, block)
    d_star = np.array(
        [
            abs(ref_sharpe(x[i]) - ref_sharpe(y[i]) - diff) / ref_block_se(x[i], y[i], block)
            for i in idx
        ]
    )
    assert got.standard_error == pytest.approx(se, rel=RTOL)
    assert got.p_value == pytest.approx((np.sum(d_star >= abs(diff) / se) + 1) / (n_boot + 1))
    half = np.quantile(d_star, 0.9) * se
    assert (got.ci_low, got.ci_high) == pytest.approx((diff - half, diff + half), rel=RTOL)
    assert (got.block_length, got.n_boot) == (block, n_boot)


def test_circular_resamples_are_whole_blocks():
    idx = block_bootstrap_indices(103, 50, method="circular", block_length=10, seed=0)
    assert idx.shape == (50, 103) and idx.min() >= 0 and idx.max() < 103
    steps = (np.diff(idx, axis=1) % 103).reshape(-1)
    inside = np.ones(102, bool)
    inside[9::10] = False  # positions 9 -> 10, 19 -> 20, ... cross a block boundary
    assert np.all(steps.reshape(50, 102)[:, inside] == 1)


def test_ledoit_wolf_agrees_with_jobson_korkie_memmel_on_iid_normal_returns():
    """Both estimate the same asymptotic variance under iid normality. Over 200 samples of
    2,000 correlated normal pairs, the HAC SE over the JKM SE has mean 1 within 1% (its
    spread per sample is about 1.4%, so the mean's sd is 0.1%: the 1% allows the HAC
    estimator's small-sample bias) and every p-value pair agrees within 0.05."""
    rng = np.random.default_rng(7)
    mu, sd, rho = np.array([0.06, 0.02]), np.array([1.0, 0.8]), 0.6
    cov = np.array([[1, rho], [rho, 1]]) * np.outer(sd, sd)
    ratios, gaps = [], []
    for _ in range(200):
        z = rng.multivariate_normal(mu, cov, size=2000)
        lw = sharpe_difference_test(z[:, 0], z[:, 1], method="ledoit_wolf")
        jk = sharpe_difference_test(z[:, 0], z[:, 1], method="jobson_korkie_memmel")
        ratios.append(lw.standard_error / jk.standard_error)
        gaps.append(abs(lw.p_value - jk.p_value))
    assert abs(np.mean(ratios) - 1) < 0.01
    assert max(gaps) < 0.05


def _null_pairs(rng, n_sims, n_obs):
    """Pairs with equal true Sharpe 0.05 (means 0.05 and 0.1, sds 1 and 2), correlation 0.5."""
    cov = np.array([[1.0, 1.0], [1.0, 4.0]])
    return rng.multivariate_normal([0.05, 0.1], cov, size=(n_sims, n_obs))


@pytest.mark.parametrize("method", ["ledoit_wolf", "jobson_korkie_memmel"])
def test_asymptotic_tests_hold_their_size(method):
    """Under the null, 1,000 tests of 1,000 observations reject at 5% in 3-7% of cases
    (binomial sd 0.7%: about 3 sd either side)."""
    pairs = _null_pairs(np.random.default_rng(99), 1000, 1000)
    p = [sharpe_difference_test(s[:, 0], s[:, 1], method=method).p_value for s in pairs]
    assert 0.03 <= np.mean(np.array(p) < 0.05) <= 0.07


def test_bootstrap_test_size_quick():
    """500 bootstrap tests (199 resamples each) of 500 observations under the null: the
    rejection rate at 5% lies in 2-8% (binomial sd 1%: about 3 sd, as this run is small)."""
    pairs = _null_pairs(np.random.default_rng(5), 500, 500)
    p = [
        sharpe_difference_test(s[:, 0], s[:, 1], method="bootstrap", n_boot=199, seed=i).p_value
        for i, s in enumerate(pairs)
    ]
    assert 0.02 <= np.mean(np.array(p) < 0.05) <= 0.08


@pytest.mark.slow
def test_bootstrap_test_size():
    """1,000 bootstrap tests (499 resamples) under the null reject at 5% in 3-7%."""
    pairs = _null_pairs(np.random.default_rng(6), 1000, 1000)
    p = [
        sharpe_difference_test(s[:, 0], s[:, 1], method="bootstrap", n_boot=499, seed=i).p_value
        for i, s in enumerate(pairs)
    ]
    assert 0.03 <= np.mean(np.array(p) < 0.05) <= 0.07


def test_a_strategy_against_itself_has_no_difference(sp500_pair):
    a, _ = sp500_pair
    for method in ("ledoit_wolf", "jobson_korkie_memmel", "bootstrap"):
        got = sharpe_difference_test(a, a, method=method, n_boot=99, seed=0)  # type: ignore[arg-type]
        assert got.difference == 0.0 and got.p_value == 1.0
        assert got.ci_low == got.ci_high == 0.0


def test_seeded_bootstrap_is_reproducible_and_leaves_the_global_rng(sp500_pair):
    a, b = sp500_pair
    state = np.random.get_state()[1].copy()  # noqa: NPY002 (checks the global RNG is untouched)
    one = sharpe_difference_test(a, b, method="bootstrap", n_boot=99, seed=3)
    two = sharpe_difference_test(a, b, method="bootstrap", n_boot=99, seed=np.random.default_rng(3))
    assert one == two
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def test_alignment_and_validation(sp500_pair):
    a, b = sp500_pair
    with pytest.raises(ValueError, match="same dates"):
        sharpe_difference_test(a, b.shift(1, freq="D"))
    with pytest.raises(ValueError, match="same dates"):
        sharpe_difference_test(a, b.iloc[1:])
    with pytest.raises(ValueError, match="same number"):
        sharpe_difference_test(a.to_numpy(), b.to_numpy()[1:])
    with pytest.raises(ValueError, match="method"):
        sharpe_difference_test(a, b, method="t_test")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        sharpe_difference_test(a.to_numpy(), np.r_[b.to_numpy()[:-1], np.inf])
    with pytest.raises(ValueError, match="block_length"):
        sharpe_difference_test(a, b, method="bootstrap", block_length=len(a))
    with pytest.raises(TypeError, match="seed"):
        sharpe_difference_test(a, b, method="bootstrap", seed=1.5)  # type: ignore[arg-type]
    assert isinstance(a.index, pd.DatetimeIndex)


def test_a_zero_standard_error_gives_a_defined_answer():
    # a copy that differs from the benchmark only by rounding: no division by zero
    rng = np.random.default_rng(5)
    b = rng.normal(0.0005, 0.01, 500)
    a = b * (1 + 1e-16)
    for method in ("ledoit_wolf", "jobson_korkie_memmel"):
        result = sharpe_difference_test(a, b, method=method)
        assert np.isfinite(result.p_value) and 0.0 <= result.p_value <= 1.0
        assert result.ci_low <= result.difference <= result.ci_high
