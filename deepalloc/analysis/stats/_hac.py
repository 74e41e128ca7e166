"""Long-run covariance (HAC) estimators of a mean-zero multivariate series.

``v`` has shape (time, k) and mean-zero columns (moment conditions evaluated at their
sample estimates). ``autocovariance(v, j)`` is
``Gamma(j) = (1 / T) * sum_{t = j + 1}^{T} v_t v_{t - j}'``, and each estimator is
``Gamma(0) + sum_{j >= 1} w(j) * (Gamma(j) + Gamma(j)')`` with its own weights ``w``.
"""

from __future__ import annotations

import numpy as np


def autocovariance(v: np.ndarray, lag: int) -> np.ndarray:
    """``Gamma(lag)``, shape (k, k), with divisor ``T`` (Newey and West 1987; Andrews 1991)."""
    n = v.shape[0]
    return v[lag:].T @ v[: n - lag] / n


def newey_west_lag(n_obs: int) -> int:
    """Newey and West (1994) rule of thumb for Bartlett weights: ``floor(4 (T / 100)^(2/9))``."""
    return int(np.floor(4.0 * (n_obs / 100.0) ** (2.0 / 9.0)))


def newey_west(v: np.ndarray, lags: int) -> np.ndarray:
    """Newey and West (1987) estimator, Bartlett weights ``w(j) = 1 - j / (lags + 1)``."""
    out = autocovariance(v, 0)
    for j in range(1, lags + 1):
        gamma = autocovariance(v, j)
        out = out + (1.0 - j / (lags + 1.0)) * (gamma + gamma.T)
    return out


def parzen(x: float) -> float:
    """Parzen kernel: ``1 - 6x^2 + 6|x|^3`` on ``|x| <= 1/2``, ``2 (1 - |x|)^3`` up to 1, else 0."""
    x = abs(x)
    if x <= 0.5:
        return 1.0 - 6.0 * x**2 + 6.0 * x**3
    return 2.0 * (1.0 - x) ** 3 if x <= 1.0 else 0.0


def andrews_parzen_bandwidth(v: np.ndarray) -> float:
    """Andrews (1991) automatic bandwidth for the Parzen kernel, AR(1) plug-in, eq. (6.4).

    Each column is fitted by OLS as an AR(1) without intercept (the columns have mean
    zero): ``rho = sum v_t v_{t-1} / sum v_{t-1}^2`` and ``sigma^2`` the mean squared
    residual. With unit weights,
    ``alpha(2) = sum 4 rho^2 sigma^4 / (1 - rho)^8 / sum sigma^4 / (1 - rho)^4`` and the
    bandwidth is ``S_T = 2.6614 (alpha(2) T)^(1/5)``.
    """
    n = v.shape[0]
    lagged, current = v[:-1], v[1:]
    rho = np.sum(current * lagged, axis=0) / np.sum(lagged**2, axis=0)
    sigma2 = np.mean((current - rho * lagged) ** 2, axis=0)
    num = np.sum(4.0 * rho**2 * sigma2**2 / (1.0 - rho) ** 8)
    den = np.sum(sigma2**2 / (1.0 - rho) ** 4)
    return float(2.6614 * (num / den * n) ** 0.2)


def parzen_hac(v: np.ndarray) -> tuple[np.ndarray, float]:
    """Parzen-kernel HAC estimate with Andrews' bandwidth and the ``T / (T - k)`` correction.

    Returns the (k, k) estimate and the bandwidth ``S_T``; lags ``1 <= j < S_T`` enter
    with weight ``parzen(j / S_T)`` (the kernel is zero beyond). This is the estimator of
    Ledoit and Wolf (2008, Section 3.1) with the Parzen kernel in place of their
    prewhitened quadratic-spectral one; ``T / (T - k)`` is their small-sample
    degrees-of-freedom adjustment (``k = 4`` for two Sharpe ratios).
    """
    n, k = v.shape
    bandwidth = andrews_parzen_bandwidth(v)
    out = autocovariance(v, 0)
    j = 1
    while j < min(bandwidth, n):
        gamma = autocovariance(v, j)
        out = out + parzen(j / bandwidth) * (gamma + gamma.T)
        j += 1
    return out * n / (n - k), bandwidth
