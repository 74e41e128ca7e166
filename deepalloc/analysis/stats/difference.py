"""Tests of the difference of two Sharpe ratios measured on the same dates.

``a`` and ``b`` are per-period returns of two strategies on the same dates (two Series
with equal indexes, or two arrays of equal length). The difference is
``SR_a - SR_b`` of per-period Sharpe ratios ``mean / std(ddof=1)``; the p-value is
two-sided for ``H0: SR_a = SR_b``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import norm

from deepalloc.analysis.stats._hac import parzen_hac
from deepalloc.analysis.stats._inputs import (
    ReturnsLike,
    SeedLike,
    as_generator,
    as_pair,
    check_count,
    check_probability,
)
from deepalloc.analysis.stats.bootstrap import automatic_block_length, index_chunks

DifferenceMethod = Literal["ledoit_wolf", "jobson_korkie_memmel", "bootstrap"]


@dataclass(frozen=True)
class SharpeDifference:
    """Result of :func:`sharpe_difference_test` (per-period Sharpe units).

    Attributes
    ----------
    difference
        ``SR_a - SR_b``.
    standard_error
        Standard error of the difference used to studentize it.
    ci_low, ci_high
        Confidence interval of the difference at ``confidence``.
    p_value
        Two-sided p-value of ``SR_a = SR_b``.
    statistic
        ``difference / standard_error``.
    sharpe_a, sharpe_b
        The two per-period Sharpe ratios.
    method, confidence, n_obs
        How it was computed, the interval's coverage and the number of dates.
    block_length, n_boot
        Block length and resamples of the bootstrap (``None`` for the other methods).
    """

    difference: float
    standard_error: float
    ci_low: float
    ci_high: float
    p_value: float
    statistic: float
    sharpe_a: float
    sharpe_b: float
    method: str
    confidence: float
    n_obs: int
    block_length: int | None = None
    n_boot: int | None = None


def _lw_gradient(mu: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """Gradient of ``f(mu_a, mu_b, g_a, g_b) = mu_a / sqrt(g_a - mu_a^2) - (same for b)``.

    Ledoit and Wolf (2008), Section 3.1; ``mu`` and ``gamma`` (uncentered second
    moments) have shape (..., 2) and the result shape (..., 4).
    """
    var15 = (gamma - mu**2) ** 1.5
    return np.stack(
        [
            gamma[..., 0] / var15[..., 0],
            -gamma[..., 1] / var15[..., 1],
            -0.5 * mu[..., 0] / var15[..., 0],
            0.5 * mu[..., 1] / var15[..., 1],
        ],
        axis=-1,
    )


def _block_statistics(x: np.ndarray, y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """``SR_a - SR_b`` and its block standard error, Ledoit and Wolf (2008), Section 3.2.

    ``Psi = (1 / l) sum_j zeta_j zeta_j'`` with ``zeta_j = sqrt(b) * (mean over block j of
    (r_a - mu_a, r_b - mu_b, r_a^2 - g_a, r_b^2 - g_b))`` over the ``l = floor(T / b)``
    complete blocks, and ``se = sqrt(grad' Psi grad / T)``. Rows of ``x``, ``y``
    (..., time) are separate series. ``grad' zeta_j`` is the block sum of the scalar
    series ``grad' (r_a, r_b, r_a^2, r_b^2)_t`` less ``b grad' (mu_a, mu_b, g_a, g_b)``,
    so the (..., time, 4) moment array is never built, and the Sharpe ratios
    (``std`` with ddof 1) come from the same first and second moments.
    """
    n = x.shape[-1]
    x2, y2 = x * x, y * y
    mu = np.stack([x.mean(-1), y.mean(-1)], axis=-1)
    gamma = np.stack([x2.mean(-1), y2.mean(-1)], axis=-1)
    sd = np.sqrt((gamma - mu**2) * (n / (n - 1.0)))
    diff = mu[..., 0] / sd[..., 0] - mu[..., 1] / sd[..., 1]
    g = _lw_gradient(mu, gamma)
    centre = np.sum(g[..., :2] * mu + g[..., 2:] * gamma, axis=-1)
    x2 *= g[..., 2, None]
    y2 *= g[..., 3, None]
    w = x * g[..., 0, None]
    w += y * g[..., 1, None]
    w += x2
    w += y2
    n_blocks = n // block
    if block > 1:
        w = w[..., : n_blocks * block].reshape(*w.shape[:-1], n_blocks, block).sum(-1)
    w -= block * centre[..., None]
    return diff, np.sqrt(np.mean(w * w, axis=-1) / block / n)


def _sharpe(x: np.ndarray) -> np.ndarray:
    return x.mean(-1) / x.std(-1, ddof=1)


def _ledoit_wolf(x: np.ndarray, y: np.ndarray) -> float:
    """HAC standard error of ``SR_a - SR_b``, Ledoit and Wolf (2008), Section 3.1."""
    n = len(x)
    mu = np.array([x.mean(), y.mean()])
    gamma = np.array([np.mean(x**2), np.mean(y**2)])
    v = np.column_stack([x - mu[0], y - mu[1], x**2 - gamma[0], y**2 - gamma[1]])
    psi, _ = parzen_hac(v)
    g = _lw_gradient(mu, gamma)
    return math.sqrt(max(float(g @ psi @ g), 0.0) / n)


def _jobson_korkie_memmel(x: np.ndarray, y: np.ndarray) -> float:
    """Memmel (2003) corrected Jobson and Korkie (1981) standard error (iid normal returns)."""
    sa, sb = float(_sharpe(x)), float(_sharpe(y))
    rho = float(np.corrcoef(x, y)[0, 1])
    theta = 2.0 - 2.0 * rho + 0.5 * (sa**2 + sb**2 - 2.0 * sa * sb * rho**2)
    return math.sqrt(max(theta, 0.0) / len(x))


def studentized_bootstrap(
    x: np.ndarray, y: np.ndarray, chunks: Iterable[np.ndarray], block: int
) -> tuple[float, np.ndarray]:
    """Block SE of the original difference and ``|d* - d| / se*`` of each resample.

    Ledoit and Wolf (2008), Section 3.2; ``chunks`` yields index arrays (resample, time).
    """
    diff = float(_sharpe(x) - _sharpe(y))
    se = float(_block_statistics(x, y, block)[1])
    stats = []
    for idx in chunks:
        d_star, se_star = _block_statistics(x[idx], y[idx], block)
        stats.append(np.abs(d_star - diff) / se_star)
    return se, np.concatenate(stats)


def _bootstrap_block(x: np.ndarray, y: np.ndarray, block_length: object) -> int:
    """The given block length (checked) or the circular Politis-White one of the moments."""
    n = len(x)
    if block_length is None:
        moments = np.column_stack([x, y, (x - x.mean()) ** 2, (y - y.mean()) ** 2])
        return int(automatic_block_length(moments, method="circular"))
    block = check_count("block_length", block_length)
    if n // block < 2:
        raise ValueError(f"block_length: expected at most half the {n} observations, got {block}")
    return block


def sharpe_difference_test(
    a: ReturnsLike,
    b: ReturnsLike,
    *,
    method: DifferenceMethod = "ledoit_wolf",
    confidence: float = 0.95,
    block_length: int | None = None,
    n_boot: int = 4999,
    seed: SeedLike = None,
) -> SharpeDifference:
    """Test ``SR_a = SR_b`` for two return series on the same dates.

    Parameters
    ----------
    a, b
        Per-period returns, shape (time,) each: two Series with equal indexes, or arrays
        of equal length.
    method
        ``"ledoit_wolf"``: Ledoit and Wolf (2008), "Robust performance hypothesis
        testing with the Sharpe ratio", Journal of Empirical Finance 15(5), Section 3.1.
        The delta method on ``v = (mu_a, mu_b, E r_a^2, E r_b^2)`` with a HAC estimate
        of the covariance of ``sqrt(T) v``: Parzen kernel, Andrews (1991) AR(1) plug-in
        bandwidth, ``T / (T - 4)`` adjustment (the paper uses the prewhitened
        quadratic-spectral kernel; see ``deepalloc.analysis.stats._hac``). Normal interval and
        p-value.

        ``"bootstrap"``: their studentized circular block bootstrap (Section 3.2):
        resample date blocks of both series jointly; studentize the original and each
        resampled difference with the block standard error
        ``Psi = (1/l) sum_j zeta_j zeta_j'`` over the resample's own blocks; the
        interval is ``d +- q se`` with ``q`` the ``confidence`` quantile of
        ``|d* - d| / se*``, and ``p = (#{|d* - d| / se* >= |d| / se} + 1) / (n_boot + 1)``.

        ``"jobson_korkie_memmel"``: Jobson and Korkie (1981) with Memmel's (2003)
        correction, valid for iid normal returns:
        ``se^2 = (2 - 2 rho + (SR_a^2 + SR_b^2 - 2 SR_a SR_b rho^2) / 2) / T``.
    confidence
        Coverage of the confidence interval.
    block_length
        Bootstrap block length; by default the largest circular Politis and White
        (2004) length of ``r_a, r_b, r_a^2, r_b^2`` (their moment conditions).
    n_boot
        Number of bootstrap resamples (``"bootstrap"`` only).
    seed
        An int, a ``numpy.random.Generator`` or ``None`` (``"bootstrap"`` only).

    Returns
    -------
    SharpeDifference
    """
    x, y = as_pair(a, b, min_length=8)
    level = check_probability("confidence", confidence)
    if method not in ("ledoit_wolf", "jobson_korkie_memmel", "bootstrap"):
        raise ValueError(
            "method: expected one of ['ledoit_wolf', 'jobson_korkie_memmel', 'bootstrap'], "
            f"got {method!r}"
        )
    n = len(x)
    diff = float(_sharpe(x) - _sharpe(y))
    block = boots = None
    if method == "bootstrap":
        boots = check_count("n_boot", n_boot, low=1)
        block = _bootstrap_block(x, y, block_length)
    if np.array_equal(x, y):  # one strategy against itself: no difference, nothing to test
        se, half, p = 0.0, 0.0, 1.0
    elif block is None or boots is None:
        se = _ledoit_wolf(x, y) if method == "ledoit_wolf" else _jobson_korkie_memmel(x, y)
        half = float(norm.ppf(0.5 + level / 2.0)) * se
        p = float(2.0 * norm.sf(abs(diff) / se)) if se > 0 else float(diff == 0)
    else:
        chunks = index_chunks(as_generator(seed), n, boots, float(block), "circular")
        se, d_star = studentized_bootstrap(x, y, chunks, block)
        half = float(np.quantile(d_star, level)) * se
        if se > 0:
            p = float((np.sum(d_star >= abs(diff) / se) + 1) / (boots + 1))
        else:
            p = float(diff == 0)
    return SharpeDifference(
        difference=diff,
        standard_error=se,
        ci_low=diff - half,
        ci_high=diff + half,
        p_value=min(p, 1.0),
        statistic=diff / se if se > 0 else 0.0,
        sharpe_a=float(_sharpe(x)),
        sharpe_b=float(_sharpe(y)),
        method=method,
        confidence=level,
        n_obs=n,
        block_length=block,
        n_boot=boots,
    )
