"""Seeded synthetic markets for tests and examples.

:func:`synthetic_market` draws daily simple returns with a factor structure, GARCH(1,1)
volatility clustering, Student-t tails, optional bull/bear regimes, and an optional
persistent drift per asset (a momentum effect: trailing returns predict the next ones,
a signal a network can learn). :func:`sine_market` is a noiseless-ish toy whose returns
follow sine waves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _garch_paths(
    rng: np.random.Generator,
    n_days: int,
    n_series: int,
    daily_vol: np.ndarray,
    alpha: float,
    beta: float,
    df: float,
) -> np.ndarray:
    """Unit-free GARCH(1,1) shocks with Student-t innovations, shape (n_days, n_series)."""
    if not (alpha >= 0 and beta >= 0 and alpha + beta < 1):
        raise ValueError(
            f"garch: expected alpha, beta >= 0 with alpha + beta < 1, got {alpha}, {beta}"
        )
    z = rng.standard_t(df, size=(n_days, n_series)) * np.sqrt((df - 2) / df)
    var_long = daily_vol**2
    omega = var_long * (1 - alpha - beta)
    var = var_long.copy()
    out = np.empty((n_days, n_series))
    for t in range(n_days):
        out[t] = np.sqrt(var) * z[t]
        var = omega + alpha * out[t] ** 2 + beta * var
    return out


def synthetic_market(
    n_days: int = 2520,
    n_assets: int = 20,
    *,
    seed: int,
    n_factors: int = 3,
    annual_vol: float = 0.25,
    annual_drift: float = 0.06,
    garch: tuple[float, float] = (0.08, 0.90),
    tail_df: float = 5.0,
    regimes: bool = False,
    momentum: float = 0.0,
    momentum_persistence: float = 0.99,
    start: str = "2000-01-03",
) -> pd.DataFrame:
    """Draw a realistic daily market of simple returns.

    Parameters
    ----------
    n_days, n_assets
        Shape of the result.
    seed
        Seed of the ``numpy.random.Generator`` used for every draw.
    n_factors
        Number of common factors; the first is the market (betas around 1).
    annual_vol
        Typical annualised volatility of an asset.
    annual_drift
        Average annualised expected return.
    garch
        ``(alpha, beta)`` of the GARCH(1,1) variance recursion of factors and residuals.
    tail_df
        Degrees of freedom of the Student-t innovations (> 2; lower is fatter).
    regimes
        Switch between a calm bull regime and a volatile bear regime (Markov chain,
        mean duration about a year and a quarter respectively).
    momentum
        Strength of the predictable drift: its stationary daily standard deviation as a
        fraction of the asset's daily residual volatility (0 disables it).
    momentum_persistence
        AR(1) coefficient of the drift (close to 1: slow-moving, so trailing returns
        predict future ones).
    start
        First business date.

    Returns
    -------
    pandas.DataFrame
        Shape (n_days, n_assets), business-day ``DatetimeIndex``, columns ``A00``, ...
    """
    if n_days < 2 or n_assets < 1 or n_factors < 1:
        raise ValueError(
            f"expected n_days >= 2, n_assets >= 1, n_factors >= 1, got {n_days}, {n_assets}, "
            f"{n_factors}"
        )
    if tail_df <= 2:
        raise ValueError(f"tail_df: expected > 2 (finite variance), got {tail_df}")
    rng = np.random.default_rng(seed)
    alpha, beta = garch
    daily_vol = annual_vol / np.sqrt(252)
    betas = rng.normal(0.0, 0.4, size=(n_factors, n_assets))
    betas[0] = rng.normal(1.0, 0.25, size=n_assets)
    factor_vol = np.full(n_factors, daily_vol * 0.6)
    factors = _garch_paths(rng, n_days, n_factors, factor_vol, alpha, beta, tail_df)
    resid_vol = daily_vol * rng.uniform(0.5, 1.1, size=n_assets)
    resid = _garch_paths(rng, n_days, n_assets, resid_vol, alpha, beta, tail_df)
    drift = annual_drift / 252 + rng.normal(0.0, 0.02 / 252, size=n_assets)
    returns = drift + factors @ betas + resid
    if regimes:
        stay = np.array([1 - 1 / 300, 1 - 1 / 80])
        state = np.zeros(n_days, dtype=int)
        u = rng.uniform(size=n_days)
        for t in range(1, n_days):
            prev = state[t - 1]
            state[t] = prev if u[t] < stay[prev] else 1 - prev
        bear = state == 1
        returns[bear] = returns[bear] * 1.8 - 0.30 / 252
    if momentum > 0:
        phi = momentum_persistence
        shocks = rng.normal(size=(n_days, n_assets)) * momentum * resid_vol * np.sqrt(1 - phi**2)
        mu = np.empty((n_days, n_assets))
        level = rng.normal(size=n_assets) * momentum * resid_vol
        for t in range(n_days):
            level = phi * level + shocks[t]
            mu[t] = level
        returns = returns + mu
    returns = np.maximum(returns, -0.95)
    index = pd.bdate_range(start, periods=n_days, name="date")
    columns = [f"A{i:02d}" for i in range(n_assets)]
    return pd.DataFrame(returns, index=index, columns=columns)


def sine_market(
    n_days: int = 1000,
    n_assets: int = 5,
    *,
    seed: int,
    amplitude: float = 0.01,
    noise: float = 0.001,
    min_period: int = 20,
    max_period: int = 120,
    start: str = "2000-01-03",
) -> pd.DataFrame:
    """Toy market whose daily returns are sine waves plus a little Gaussian noise.

    Asset ``i`` has return ``amplitude * sin(2 pi t / period_i + phase_i) + noise * e``
    with periods drawn in ``[min_period, max_period]`` and random phases; a network with
    a lookback of a period or more can learn when each asset rises.

    Returns
    -------
    pandas.DataFrame
        Shape (n_days, n_assets) of simple returns, business-day ``DatetimeIndex``.
    """
    rng = np.random.default_rng(seed)
    periods = rng.uniform(min_period, max_period, size=n_assets)
    phases = rng.uniform(0, 2 * np.pi, size=n_assets)
    t = np.arange(n_days)[:, None]
    returns = amplitude * np.sin(2 * np.pi * t / periods + phases)
    returns = returns + noise * rng.normal(size=(n_days, n_assets))
    index = pd.bdate_range(start, periods=n_days, name="date")
    return pd.DataFrame(returns, index=index, columns=[f"S{i:02d}" for i in range(n_assets)])
