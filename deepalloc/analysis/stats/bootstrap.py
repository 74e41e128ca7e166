"""Block bootstraps of return series: resample indices, block lengths, confidence intervals.

Resamples keep serial dependence by drawing blocks of consecutive observations that wrap
around the end of the series: blocks of fixed length (circular block bootstrap, Politis
and Romano 1992) or of geometric length (stationary bootstrap, Politis and Romano 1994).
Indices are drawn in chunks of resamples, so memory stays about 2 million entries
whatever ``n_boot``; the randomness comes only from the generator or seed given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from deepalloc.analysis.stats._inputs import (
    ReturnsLike,
    SeedLike,
    as_generator,
    as_returns,
    check_count,
    check_probability,
    check_real,
)

BootstrapMethod = Literal["stationary", "circular"]
_CHUNK_ENTRIES = 2_000_000


def _flat_top(x: np.ndarray) -> np.ndarray:
    """Politis and Romano's trapezoidal flat-top lag window."""
    x = np.abs(x)
    return np.where(x <= 0.5, 1.0, np.where(x <= 1.0, 2.0 * (1.0 - x), 0.0))


def _politis_white(x: np.ndarray, method: BootstrapMethod) -> float:
    """Politis and White (2004) block length of one series, with Patton et al.'s correction."""
    n = len(x)
    dev = x - x.mean()
    k_n = max(5, math.ceil(math.sqrt(math.log10(n))))
    m_max = min(math.ceil(math.sqrt(n)) + k_n, n - 1)
    acov = np.array([dev[k:] @ dev[: n - k] / n for k in range(m_max + 1)])
    insignificant = np.abs(acov[1:] / acov[0]) < 2.0 * math.sqrt(math.log10(n) / n)
    big_m = m_max
    for m in range(m_max - k_n + 1):
        if insignificant[m : m + k_n].all():
            big_m = min(2 * m, m_max)
            break
    lags = np.arange(1, big_m + 1)
    weights = _flat_top(lags / big_m) if big_m else lags * 0.0
    g_hat = 2.0 * np.sum(weights * lags * acov[1 : big_m + 1])
    spectrum = acov[0] + 2.0 * np.sum(weights * acov[1 : big_m + 1])
    d_hat = (2.0 if method == "stationary" else 4.0 / 3.0) * spectrum**2
    b_max = math.ceil(min(3.0 * math.sqrt(n), n / 3.0))
    if d_hat <= 0.0 or g_hat == 0.0:
        return 1.0
    return float(min(max((2.0 * g_hat**2 / d_hat) ** (1.0 / 3.0) * n ** (1.0 / 3.0), 1.0), b_max))


def automatic_block_length(
    series: np.ndarray | pd.Series | pd.DataFrame, *, method: BootstrapMethod = "stationary"
) -> float:
    """Politis and White (2004) automatic block length, the largest over columns.

    Politis, D. N. and White, H. (2004), "Automatic Block-Length Selection for the
    Dependent Bootstrap", Econometric Reviews 23(1), with the corrected circular-block
    constant of Patton, Politis and White (2009), Econometric Reviews 28(4): for each
    column, ``b = (2 G^2 / D)^(1/3) T^(1/3)`` with ``G = sum_k lambda(k/M) |k| R(k)``,
    ``D = 2 g^2`` (stationary) or ``4/3 g^2`` (circular), ``g = sum_k lambda(k/M) R(k)``,
    ``lambda`` the flat-top window and ``M = 2 m`` where ``m`` is the first lag followed
    by ``max(5, sqrt(log10 T))`` autocorrelations inside ``2 sqrt(log10 T / T)``.

    Parameters
    ----------
    series
        Shape (time,) or (time, k).
    method
        ``"stationary"`` (mean block length, a float) or ``"circular"`` (rounded up).

    Returns
    -------
    float
        Between 1 and ``min(3 sqrt(T), T / 3)``; an integer value for ``"circular"``.
    """
    if method not in ("stationary", "circular"):
        raise ValueError(f"method: expected one of ['stationary', 'circular'], got {method!r}")
    values = np.asarray(series, dtype=np.float64)
    columns = values[:, None] if values.ndim == 1 else values
    if columns.ndim != 2 or len(columns) < 8 or not np.isfinite(columns).all():
        raise ValueError(
            f"series: expected finite values of shape (time,) or (time, k) with time >= 8, "
            f"got shape {values.shape}"
        )
    best = max(_politis_white(columns[:, i], method) for i in range(columns.shape[1]))
    return float(math.ceil(best)) if method == "circular" else best


def default_block_length(returns: np.ndarray, method: BootstrapMethod) -> float:
    """Block length used when none is given: Politis-White on ``r`` and ``(r - mean)^2``.

    Most return metrics depend on the second moment, and the squared deviations of
    market returns (volatility clustering) stay dependent much longer than the returns,
    so the larger of the two lengths is used.
    """
    return automatic_block_length(
        np.column_stack([returns, (returns - returns.mean()) ** 2]), method=method
    )


def check_block_length(block_length: object, n_obs: int, method: BootstrapMethod) -> float:
    """A block length in [1, n_obs]; an int for the circular bootstrap."""
    if method == "circular":
        return float(check_count("block_length", block_length, low=1))
    return check_real("block_length", block_length, low=1.0)


def index_chunks(
    rng: np.random.Generator,
    n_obs: int,
    n_boot: int,
    block_length: float,
    method: BootstrapMethod,
) -> Iterator[np.ndarray]:
    """Yield resample indices, shape (chunk, n_obs), ``n_boot`` rows in all, in order."""
    chunk = max(1, _CHUNK_ENTRIES // n_obs)
    t = np.arange(n_obs, dtype=np.int64)
    for first in range(0, n_boot, chunk):
        size = min(chunk, n_boot - first)
        if method == "circular":
            b = int(block_length)
            starts = rng.integers(0, n_obs, size=(size, -(-n_obs // b)))
            idx = (starts[:, :, None] + np.arange(b)).reshape(size, -1)[:, :n_obs]
        else:
            new_block = rng.random((size, n_obs)) < 1.0 / block_length
            new_block[:, 0] = True
            flat = new_block.reshape(-1)
            starts = rng.integers(0, n_obs, size=int(flat.sum()))
            last = np.maximum.accumulate(np.where(new_block, t, 0), axis=1)
            idx = starts[np.cumsum(flat) - 1].reshape(size, n_obs) + (t - last)
        idx[idx >= n_obs] -= n_obs  # wrap around: every index is below 2 n_obs here
        yield idx


def block_bootstrap_indices(
    n_obs: int,
    n_boot: int,
    *,
    method: BootstrapMethod = "stationary",
    block_length: float,
    seed: SeedLike = None,
) -> np.ndarray:
    """Indices of ``n_boot`` block-bootstrap resamples of a series of ``n_obs`` observations.

    Use the same indices for several series on the same dates to resample them jointly.

    Parameters
    ----------
    n_obs, n_boot
        Series length and number of resamples.
    method
        ``"circular"``: Politis and Romano (1992), blocks of ``block_length`` (an int)
        from uniform starts, wrapping around, the last block cut at ``n_obs``.
        ``"stationary"``: Politis and Romano (1994), each index starts a new block with
        probability ``1 / block_length`` (geometric lengths of that mean), else follows
        the previous one, wrapping around.
    block_length
        Block length (circular) or mean block length (stationary), at least 1.
    seed
        An int, a ``numpy.random.Generator`` or ``None`` (fresh entropy).

    Returns
    -------
    numpy.ndarray
        Integer indices into the series, shape (n_boot, n_obs).
    """
    n = check_count("n_obs", n_obs)
    boots = check_count("n_boot", n_boot)
    if method not in ("stationary", "circular"):
        raise ValueError(f"method: expected one of ['stationary', 'circular'], got {method!r}")
    b = check_block_length(block_length, n, method)
    return np.concatenate(list(index_chunks(as_generator(seed), n, boots, b, method)))


@dataclass(frozen=True, eq=False)
class BootstrapInterval:
    """A percentile block-bootstrap confidence interval of a metric.

    Attributes
    ----------
    estimate
        The metric of the original series.
    ci_low, ci_high
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
        bootstrap replicates.
    standard_error
        Standard deviation (ddof 1) of the replicates.
    replicates
        The metric of each resample, shape (n_boot,).
    """

    estimate: float
    ci_low: float
    ci_high: float
    standard_error: float
    confidence: float
    method: str
    block_length: float
    n_boot: int
    replicates: np.ndarray


def _replicates(
    series: pd.Series,
    metric: Callable[[Any], Any],
    chunks: Iterator[np.ndarray],
    vectorized: bool,
) -> np.ndarray:
    values, index, name = series.to_numpy(), series.index, series.name
    out = []
    for idx in chunks:
        if vectorized:
            frame = pd.DataFrame(values[idx].T, index=index)
            got = np.asarray(metric(frame), dtype=np.float64).reshape(-1)
            if got.shape != (len(idx),):
                raise ValueError(
                    f"metric: expected one value per resample column ({len(idx)}), got "
                    f"shape {got.shape}"
                )
            out.append(got)
        else:
            out.append(
                np.array([float(metric(pd.Series(values[i], index=index, name=name))) for i in idx])
            )
    return np.concatenate(out)


def bootstrap_ci(
    returns: ReturnsLike,
    metric: Callable[[Any], Any],
    *,
    method: BootstrapMethod = "stationary",
    block_length: float | None = None,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = None,
    vectorized: bool = False,
) -> BootstrapInterval:
    """Percentile confidence interval of ``metric(returns)`` by block bootstrap.

    Politis and Romano (1992) circular block bootstrap or Politis and Romano (1994)
    stationary bootstrap; see :func:`block_bootstrap_indices`.

    Each resample is handed to ``metric`` as a ``pandas.Series`` of the resampled values
    **on the original index** (and name): metrics that infer periods per year from the
    dates, or annualise, see the original calendar, while metrics that depend on the
    order of returns (drawdowns) see the resampled order, which blocks keep locally.
    A plain array of returns gets a ``RangeIndex``.

    Parameters
    ----------
    returns
        Per-period returns, shape (time,).
    metric
        A function of a return Series to a number, e.g.
        ``deepalloc.metrics.sharpe_ratio``. With ``vectorized=True`` it is called once
        per chunk of resamples with a DataFrame (time x resample, the original index)
        and must return one value per column (e.g.
        ``lambda df: df.mean() / df.std()``), which avoids a Python call per resample.
    method
        ``"stationary"`` or ``"circular"``.
    block_length
        (Mean) block length; by default the larger Politis and White (2004) length of
        the returns and of their squared deviations (:func:`default_block_length`).
    n_boot
        Number of resamples.
    confidence
        Coverage of the interval.
    seed
        An int, a ``numpy.random.Generator`` or ``None``; the global RNG is never used.
    vectorized
        Whether ``metric`` takes a DataFrame of resamples (see ``metric``).

    Returns
    -------
    BootstrapInterval
        Estimate, percentile interval, bootstrap standard error and replicates.
    """
    r = as_returns(returns, min_length=8)
    if method not in ("stationary", "circular"):
        raise ValueError(f"method: expected one of ['stationary', 'circular'], got {method!r}")
    boots = check_count("n_boot", n_boot, low=2)
    level = check_probability("confidence", confidence)
    if block_length is None:
        b = default_block_length(r, method)
    else:
        b = check_block_length(block_length, len(r), method)
    if b > len(r):
        raise ValueError(f"block_length: expected at most the {len(r)} observations, got {b}")
    if isinstance(returns, pd.Series):
        series = pd.Series(r, index=returns.index, name=returns.name)
    else:
        series = pd.Series(r)
    estimate = float(metric(series))
    chunks = index_chunks(as_generator(seed), len(r), boots, b, method)
    reps = _replicates(series, metric, chunks, vectorized)
    bad = ~np.isfinite(reps)
    if bad.any():
        raise ValueError(
            f"metric: expected finite values, got {int(bad.sum())} non-finite of {boots} "
            "resamples (a constant resample?)"
        )
    low, high = np.quantile(reps, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return BootstrapInterval(
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        standard_error=float(reps.std(ddof=1)),
        confidence=level,
        method=method,
        block_length=float(b),
        n_boot=boots,
        replicates=reps,
    )
