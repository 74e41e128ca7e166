"""Sharpe standard errors, PSR, MinTRL and DSR against the papers' formulas written here.

Each reference computes the moments with SciPy (``skew(bias=True)``,
``kurtosis(fisher=False)``) and the formulas as printed in the papers. Agreement is
asked to 1e-10 relative: the quantities are O(1) sums of a few thousand terms, so
rounding differences are near 1e-14.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from deepalloc.metrics import sharpe_ratio
from deepalloc.stats import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_standard_error,
)

RTOL = 1e-10
EULER_GAMMA = float(np.euler_gamma)


def ref_moments(r):
    r = np.asarray(r, dtype=float)
    sr = r.mean() / r.std(ddof=1)
    return sr, stats.skew(r, bias=True), stats.kurtosis(r, fisher=False, bias=True), len(r)


def ref_mertens_se(r):
    sr, g3, g4, n = ref_moments(r)
    return math.sqrt((1 + 0.5 * sr**2 - g3 * sr + (g4 - 3) / 4 * sr**2) / n)


def ref_lo_se(r, m):
    """Lo (2002) GMM variance through the scalar influence series u_t = g' phi_t.

    ``g' Sigma g`` with Bartlett weights equals the Bartlett long-run variance of
    ``u_t``, computed here lag by lag with explicit sums (a different route from the
    library's matrix form).
    """
    r = np.asarray(r, dtype=float)
    n = len(r)
    mu = r.mean()
    s2 = ((r - mu) ** 2).mean()
    u = (r - mu) / math.sqrt(s2) - mu / (2 * s2**1.5) * ((r - mu) ** 2 - s2)
    lrv = sum(u[t] * u[t] for t in range(n)) / n
    for j in range(1, m + 1):
        gamma_j = sum(u[t] * u[t - j] for t in range(j, n)) / n
        lrv += 2 * (1 - j / (m + 1)) * gamma_j
    return math.sqrt(lrv / n)


def ref_psr(r, bench):
    sr, g3, g4, n = ref_moments(r)
    return stats.norm.cdf(
        (sr - bench) * math.sqrt(n - 1) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)
    )


def ref_min_trl(r, bench, conf):
    sr, g3, g4, _ = ref_moments(r)
    return 1 + (1 - g3 * sr + (g4 - 1) / 4 * sr**2) * (stats.norm.ppf(conf) / (sr - bench)) ** 2


def test_per_period_sharpe_is_the_annualised_metric_over_sqrt_ppy(sp500_pair):
    a, _ = sp500_pair
    assert per_period_sharpe(a) == pytest.approx(sharpe_ratio(a) / math.sqrt(252), rel=RTOL)


def test_mertens_standard_error(returns_case):
    got = sharpe_standard_error(returns_case, method="mertens")
    assert got == pytest.approx(ref_mertens_se(returns_case), rel=RTOL)


@pytest.mark.parametrize("lags", [None, 0, 3])
def test_lo_standard_error(returns_case, lags):
    n = len(returns_case)
    m = math.floor(4 * (n / 100) ** (2 / 9)) if lags is None else lags
    got = sharpe_standard_error(returns_case, method="lo", lags=lags)
    assert got == pytest.approx(ref_lo_se(returns_case, m), rel=RTOL)


def test_lo_without_lags_is_mertens_at_the_gmm_sharpe():
    """With no lags, Lo's GMM variance is Mertens' formula evaluated at mu / sqrt(m2)."""
    r = np.random.default_rng(3).gamma(2.0, 0.01, size=800) - 0.015
    sr = r.mean() / r.std(ddof=0)
    g3, g4 = stats.skew(r), stats.kurtosis(r, fisher=False)
    expected = math.sqrt((1 + sr**2 / 2 - g3 * sr + (g4 - 3) / 4 * sr**2) / len(r))
    assert sharpe_standard_error(r, method="lo", lags=0) == pytest.approx(expected, rel=RTOL)


def test_lo_widens_under_positive_autocorrelation():
    """AR(1) returns with phi = 0.5: the iid SE understates the variance by ~sqrt(3)."""
    rng = np.random.default_rng(11)
    e = rng.normal(size=20_000)
    r = np.empty_like(e)
    r[0] = e[0]
    for t in range(1, len(e)):
        r[t] = 0.5 * r[t - 1] + e[t]
    ratio = sharpe_standard_error(r + 0.05, method="lo", lags=40) / sharpe_standard_error(r + 0.05)
    # long-run / short-run variance of an AR(1) mean: (1 + phi) / (1 - phi) = 3
    assert ratio == pytest.approx(math.sqrt(3.0), rel=0.08)


@pytest.mark.parametrize("bench", [0.0, 0.02, -0.01])
def test_probabilistic_sharpe_ratio(returns_case, bench):
    got = probabilistic_sharpe_ratio(returns_case, benchmark=bench)
    assert got == pytest.approx(ref_psr(returns_case, bench), rel=RTOL, abs=1e-300)


@pytest.mark.parametrize("conf", [0.9, 0.95, 0.99])
def test_minimum_track_record_length(returns_case, conf):
    sr = ref_moments(returns_case)[0]
    bench = sr - 0.01
    got = minimum_track_record_length(returns_case, benchmark=bench, confidence=conf)
    assert got == pytest.approx(ref_min_trl(returns_case, bench, conf), rel=RTOL)
    # at that length the PSR reaches the confidence: the two definitions are one equation
    sr_, g3, g4, _ = ref_moments(returns_case)
    z = (sr_ - bench) * math.sqrt(got - 1) / math.sqrt(1 - g3 * sr_ + (g4 - 1) / 4 * sr_**2)
    assert stats.norm.cdf(z) == pytest.approx(conf, rel=1e-9)


def test_minimum_track_record_length_is_infinite_without_an_edge(sp500_pair):
    a, _ = sp500_pair
    assert minimum_track_record_length(a, benchmark=per_period_sharpe(a) + 0.01) == math.inf


@pytest.mark.parametrize("n_trials", [2, 10, 1000])
def test_deflated_sharpe_ratio(returns_case, n_trials):
    var = 0.5 / 252
    sr0 = math.sqrt(var) * (
        (1 - EULER_GAMMA) * stats.norm.ppf(1 - 1 / n_trials)
        + EULER_GAMMA * stats.norm.ppf(1 - 1 / (n_trials * math.e))
    )
    assert expected_maximum_sharpe(n_trials, var) == pytest.approx(sr0, rel=RTOL)
    got = deflated_sharpe_ratio(returns_case, n_trials=n_trials, trials_sharpe_variance=var)
    assert got == pytest.approx(ref_psr(returns_case, sr0), rel=RTOL, abs=1e-300)


def test_deflated_sharpe_ratio_with_one_trial_is_the_psr(sp500_pair):
    a, _ = sp500_pair
    assert deflated_sharpe_ratio(a, n_trials=1, trials_sharpe_variance=0.3) == pytest.approx(
        probabilistic_sharpe_ratio(a), rel=RTOL
    )


@pytest.mark.parametrize("n_trials", [10, 100, 1000])
def test_expected_maximum_approximates_the_exact_expectation(n_trials):
    """Against E[max of N standard normals] by quadrature; the paper's approximation
    (from extreme value theory) is within 3% at these N (2.3% at N = 10)."""
    density = lambda x: x * n_trials * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n_trials - 1)  # noqa: E731
    exact, _ = integrate.quad(density, -10, 10, limit=200)
    assert expected_maximum_sharpe(n_trials, 1.0) == pytest.approx(exact, rel=0.03)


def test_mertens_interval_covers_the_true_sharpe():
    """1,000 iid normal series of 500 returns with true per-period Sharpe 0.1: the 95%
    intervals SR +- 1.96 se cover it in 93-97% of them (binomial sd 0.7%, so the band is
    about 3 sd around 95%)."""
    rng = np.random.default_rng(2024)
    draws = rng.normal(0.1, 1.0, size=(1000, 500))
    z = stats.norm.ppf(0.975)
    covered = [
        abs(per_period_sharpe(r) - 0.1) <= z * sharpe_standard_error(r, method="mertens")
        for r in draws
    ]
    assert 0.93 <= np.mean(covered) <= 0.97


def test_validation_messages():
    good = np.random.default_rng(0).normal(size=50)
    with pytest.raises(ValueError, match="finite"):
        sharpe_standard_error(np.r_[good, np.nan])
    with pytest.raises(ValueError, match="1-d"):
        probabilistic_sharpe_ratio(good.reshape(10, 5))
    with pytest.raises(TypeError, match="DataFrame"):
        probabilistic_sharpe_ratio(pd.DataFrame({"a": good}))
    with pytest.raises(ValueError, match="at least 3"):
        per_period_sharpe([0.01, 0.02])
    with pytest.raises(ValueError, match="constant"):
        sharpe_standard_error(np.full(10, 0.01))
    with pytest.raises(ValueError, match="method"):
        sharpe_standard_error(good, method="newey")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lags"):
        sharpe_standard_error(good, method="mertens", lags=2)
    with pytest.raises(ValueError, match="confidence"):
        minimum_track_record_length(good, confidence=1.0)
    with pytest.raises(ValueError, match="n_trials"):
        deflated_sharpe_ratio(good, n_trials=0, trials_sharpe_variance=0.1)
    with pytest.raises(ValueError, match="trials_sharpe_variance"):
        deflated_sharpe_ratio(good, n_trials=5, trials_sharpe_variance=-0.1)


def test_stats_does_not_import_torch():
    code = "import sys, deepalloc.stats; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
