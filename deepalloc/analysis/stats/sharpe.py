"""Standard errors of one Sharpe ratio, and the probabilistic and deflated Sharpe ratios.

Every Sharpe quantity is per period, computed as ``mean(r) / std(r, ddof=1)`` (so
``deepalloc.metrics.sharpe_ratio`` equals it times ``sqrt(periods_per_year)``). The
skewness ``g3 = m3 / m2^(3/2)`` and kurtosis ``g4 = m4 / m2^2`` are the ordinary
(non-excess: 3 for a normal law) moment ratios with central moments
``m_k = mean((r - mean(r))^k)``, as in the papers; ``deepalloc.metrics.kurtosis`` is the
bias-corrected excess kurtosis, a different quantity.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.stats import norm

from deepalloc.analysis.stats._hac import newey_west, newey_west_lag
from deepalloc.analysis.stats._inputs import (
    ReturnsLike,
    as_returns,
    check_count,
    check_probability,
    check_real,
)

EULER_MASCHERONI = 0.5772156649015329


def per_period_sharpe(returns: ReturnsLike) -> float:
    """Per-period Sharpe ratio ``mean(r) / std(r, ddof=1)`` of returns of shape (time,).

    Subtract the risk-free rate first for an excess-return Sharpe ratio.
    """
    r = as_returns(returns)
    return float(r.mean() / r.std(ddof=1))


def _shape(r: np.ndarray) -> tuple[float, float, float]:
    """Per-period Sharpe ratio, skewness and (non-excess) kurtosis of a validated array."""
    dev = r - r.mean()
    m2 = float(np.mean(dev**2))
    skew = float(np.mean(dev**3)) / m2**1.5
    kurt = float(np.mean(dev**4)) / m2**2
    return float(r.mean() / r.std(ddof=1)), skew, kurt


def _psr_variance(sr: float, skew: float, kurt: float) -> float:
    """``1 - g3 SR + (g4 - 1) / 4 SR^2``: n times the asymptotic variance of the estimate."""
    var = 1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr**2
    if not var > 0.0:
        raise ValueError(
            "returns: expected a distribution with a positive Sharpe-ratio variance, got "
            f"1 - g3 SR + (g4 - 1) SR^2 / 4 = {var} (a two-point series?)"
        )
    return var


def sharpe_standard_error(
    returns: ReturnsLike,
    *,
    method: Literal["mertens", "lo"] = "mertens",
    lags: int | None = None,
) -> float:
    """Asymptotic standard error of the per-period Sharpe ratio of returns of shape (time,).

    Parameters
    ----------
    returns
        Per-period returns (excess of the risk-free rate for an excess-return Sharpe).
    method
        ``"mertens"``: Mertens (2002), "Comments on variance of the IID estimator in Lo
        (2002)", for independent, identically distributed but not normal returns::

            se = sqrt((1 + SR^2 / 2 - g3 SR + (g4 - 3) / 4 SR^2) / T)

        with the per-period Sharpe ratio ``SR``, skewness ``g3`` and non-excess kurtosis
        ``g4`` of the sample (the asymptotic variance that Bailey and López de Prado
        2012 write with ``T - 1``).

        ``"lo"``: Lo (2002), "The Statistics of Sharpe Ratios", Financial Analysts
        Journal 58(4), section "Non-IID returns": the GMM (delta-method) variance
        ``V = g' Sigma g`` for ``SR = mu / sigma`` with the moment conditions
        ``phi_t = (r_t - mu, (r_t - mu)^2 - sigma^2)`` at ``mu = mean(r)``,
        ``sigma^2 = m2``, gradient ``g = (1 / sigma, -mu / (2 sigma^3))`` and
        ``Sigma`` the Newey and West (1987) estimate (Bartlett weights
        ``1 - j / (lags + 1)``) that Lo uses; ``se = sqrt(V / T)``. It allows serial
        correlation and heteroskedasticity; with ``lags=0`` it is Mertens' formula
        evaluated at ``mu / sqrt(m2)``.
    lags
        Truncation lag of the Newey-West estimate (``method="lo"`` only). Lo leaves it to
        the user; the default is the Newey and West (1994) rule of thumb
        ``floor(4 (T / 100)^(2/9))`` (8 lags for 2,000 daily returns).

    Returns
    -------
    float
        The standard error, in per-period Sharpe units.
    """
    r = as_returns(returns)
    n = len(r)
    if method == "mertens":
        if lags is not None:
            raise ValueError(f"lags: expected None with method='mertens', got {lags}")
        sr, skew, kurt = _shape(r)
        return math.sqrt(_psr_variance(sr, skew, kurt) / n)
    if method != "lo":
        raise ValueError(f"method: expected one of ['mertens', 'lo'], got {method!r}")
    m = newey_west_lag(n) if lags is None else check_count("lags", lags, low=0)
    if m >= n:
        raise ValueError(f"lags: expected fewer than the {n} observations, got {m}")
    mu = float(r.mean())
    dev = r - mu
    sigma2 = float(np.mean(dev**2))
    phi = np.column_stack([dev, dev**2 - sigma2])
    grad = np.array([1.0 / math.sqrt(sigma2), -mu / (2.0 * sigma2**1.5)])
    variance = float(grad @ newey_west(phi, m) @ grad)
    return math.sqrt(max(variance, 0.0) / n)


def probabilistic_sharpe_ratio(returns: ReturnsLike, *, benchmark: float = 0.0) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark`` (PSR).

    Bailey and López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal
    of Risk 15(2), section 3::

        PSR(SR*) = Phi((SR - SR*) sqrt(T - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2))

    Parameters
    ----------
    returns
        Per-period returns, shape (time,).
    benchmark
        The per-period Sharpe ratio ``SR*`` to beat (not annualised).

    Returns
    -------
    float
        A probability in [0, 1].
    """
    r = as_returns(returns)
    bench = check_real("benchmark", benchmark)
    sr, skew, kurt = _shape(r)
    z = (sr - bench) * math.sqrt(len(r) - 1) / math.sqrt(_psr_variance(sr, skew, kurt))
    return float(norm.cdf(z))


def minimum_track_record_length(
    returns: ReturnsLike, *, benchmark: float = 0.0, confidence: float = 0.95
) -> float:
    """Observations needed for the observed Sharpe ratio to beat ``benchmark`` (MinTRL).

    Bailey and López de Prado (2012), "The Sharpe Ratio Efficient Frontier", Journal
    of Risk 15(2), section 4::

        MinTRL = 1 + (1 - g3 SR + (g4 - 1) / 4 SR^2) (Z_confidence / (SR - SR*))^2

    Parameters
    ----------
    returns
        Per-period returns, shape (time,).
    benchmark
        Per-period Sharpe ratio ``SR*``.
    confidence
        Probability level, so that ``PSR(SR*) >= confidence`` at that length.

    Returns
    -------
    float
        A number of observations (periods, not years); ``inf`` when the observed Sharpe
        ratio does not exceed ``benchmark`` (no track record length suffices).
    """
    r = as_returns(returns)
    bench = check_real("benchmark", benchmark)
    level = check_probability("confidence", confidence)
    sr, skew, kurt = _shape(r)
    if sr <= bench:
        return math.inf
    z = float(norm.ppf(level))
    return 1.0 + _psr_variance(sr, skew, kurt) * (z / (sr - bench)) ** 2


def expected_maximum_sharpe(n_trials: int, trials_sharpe_variance: float) -> float:
    """Expected maximum of ``n_trials`` per-period Sharpe ratios whose true value is zero.

    Bailey and López de Prado (2014), "The Deflated Sharpe Ratio", Journal of Portfolio
    Management 40(5), from the false strategy theorem of Bailey, Borwein, López de
    Prado and Zhu (2014)::

        SR0 = sqrt(V) ((1 - gamma) Phi^-1(1 - 1/N) + gamma Phi^-1(1 - 1/(N e)))

    with ``gamma`` the Euler-Mascheroni constant. One trial has no selection: ``SR0 = 0``
    (the formula's limit is not defined there).

    Parameters
    ----------
    n_trials
        Number ``N`` of independent trials (strategies, seeds, configurations) tried.
    trials_sharpe_variance
        Variance ``V`` of the trials' per-period Sharpe ratios (an annualised variance
        divided by periods per year).
    """
    n = check_count("n_trials", n_trials)
    var = check_real("trials_sharpe_variance", trials_sharpe_variance, low=0.0)
    if n == 1:
        return 0.0
    g = EULER_MASCHERONI
    quantiles = (1.0 - g) * norm.ppf(1.0 - 1.0 / n) + g * norm.ppf(1.0 - 1.0 / (n * math.e))
    return float(math.sqrt(var) * quantiles)


def deflated_sharpe_ratio(
    returns: ReturnsLike, *, n_trials: int, trials_sharpe_variance: float
) -> float:
    """Deflated Sharpe ratio: the PSR against the Sharpe ratio that luck alone would reach.

    Bailey and López de Prado (2014), "The Deflated Sharpe Ratio: Correcting for
    Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
    Management 40(5): ``DSR = PSR(SR0)`` with ``SR0`` from
    :func:`expected_maximum_sharpe`.

    Parameters
    ----------
    returns
        Per-period returns of the selected strategy, shape (time,).
    n_trials
        Number of trials the selection was made from.
    trials_sharpe_variance
        Variance of the trials' per-period Sharpe ratios.

    Returns
    -------
    float
        A probability in [0, 1].
    """
    sr0 = expected_maximum_sharpe(n_trials, trials_sharpe_variance)
    return probabilistic_sharpe_ratio(returns, benchmark=sr0)
