"""Performance metrics of a simple-returns Series, as quantstats and empyrical define them.

Periods per year are inferred from the median spacing of the index (daily 252, weekly
52, monthly 12, quarterly 4, yearly 1) and can be given with ``periods_per_year=``.
Where quantstats and empyrical differ, empyrical's definition is used and the docstring
says so. Every function takes a ``pandas.Series`` of simple per-period returns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepalloc._tail import check_confidence, tail_count

_PERIODS = ((4, 252), (10, 52), (45, 12), (135, 4), (10**9, 1))


def infer_periods_per_year(returns: pd.Series) -> int:
    """Periods per year from the median spacing of a ``DatetimeIndex`` (in days)."""
    if not isinstance(returns.index, pd.DatetimeIndex) or len(returns) < 2:
        raise ValueError(
            "periods_per_year: expected a DatetimeIndex with at least two dates to infer "
            f"it from, got {type(returns.index).__name__} of length {len(returns)}; pass it"
        )
    days = (
        float(np.median(np.diff(returns.index.values).astype("timedelta64[s]").astype(float)))
        / 86_400
    )
    return next(ppy for limit, ppy in _PERIODS if days <= limit)


def _ppy(returns: pd.Series, periods_per_year: float | None) -> float:
    return float(periods_per_year) if periods_per_year else float(infer_periods_per_year(returns))


def _values(returns: pd.Series) -> np.ndarray:
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"returns: expected a non-empty 1-d series, got shape {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("returns: expected finite values, got NaN or infinite")
    return values


def annualized_return(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Arithmetic mean return times periods per year."""
    return float(_values(returns).mean() * _ppy(returns, periods_per_year))


def cagr(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Compound annual growth rate ``prod(1 + r) ** (ppy / n) - 1``.

    empyrical's ``annual_return`` (years = periods / ppy); quantstats counts calendar
    days instead.
    """
    r = _values(returns)
    growth = float(np.prod(1.0 + r))
    return growth ** (_ppy(returns, periods_per_year) / len(r)) - 1.0


def annualized_volatility(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Standard deviation (ddof 1) times ``sqrt(ppy)``."""
    return float(_values(returns).std(ddof=1) * np.sqrt(_ppy(returns, periods_per_year)))


def sharpe_ratio(
    returns: pd.Series, *, risk_free: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``mean(r - rf) / std(r - rf, ddof=1) * sqrt(ppy)``; ``risk_free`` is per period."""
    excess = _values(returns) - risk_free
    return float(excess.mean() / excess.std(ddof=1) * np.sqrt(_ppy(returns, periods_per_year)))


def downside_risk(
    returns: pd.Series, *, target: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``sqrt(mean(min(r - target, 0)^2)) * sqrt(ppy)`` (empyrical)."""
    below = np.minimum(_values(returns) - target, 0.0)
    return float(np.sqrt(np.mean(below**2)) * np.sqrt(_ppy(returns, periods_per_year)))


def sortino_ratio(
    returns: pd.Series, *, target: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``mean(r - target) * ppy / downside_risk`` (empyrical; quantstats agrees at target 0)."""
    ppy = _ppy(returns, periods_per_year)
    mean = float((_values(returns) - target).mean()) * ppy
    return mean / downside_risk(returns, target=target, periods_per_year=ppy)


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall of compounded wealth, a negative fraction.

    The wealth path starts at 1 before the first period (empyrical), so a first-period
    loss counts; quantstats starts at the first period's wealth.
    """
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + _values(returns))])
    peak = np.maximum.accumulate(wealth)
    return float(np.min(wealth / peak - 1.0))


def calmar_ratio(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """CAGR over the absolute maximum drawdown (NaN without a drawdown)."""
    mdd = max_drawdown(returns)
    return cagr(returns, periods_per_year=periods_per_year) / abs(mdd) if mdd < 0 else float("nan")


def value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Historical VaR: the ``1 - confidence`` quantile of returns (negative is a loss),
    empyrical's ``value_at_risk(cutoff=1 - confidence)``."""
    check_confidence(confidence)
    return float(np.percentile(_values(returns), 100 * (1.0 - confidence)))


def conditional_value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Historical CVaR: mean of the worst ``int((n - 1) (1 - confidence)) + 1`` returns
    (negative is a loss), empyrical's ``conditional_value_at_risk(cutoff=1 - confidence)``;
    the same tail as the CVaR loss (:func:`deepalloc._tail.tail_count`)."""
    r = _values(returns)
    k = tail_count(len(r), confidence)
    return float(np.mean(np.partition(r, k - 1)[:k]))


def skew(returns: pd.Series) -> float:
    """Sample skewness (bias-corrected, as pandas and quantstats)."""
    return float(pd.Series(_values(returns)).skew())


def kurtosis(returns: pd.Series) -> float:
    """Excess kurtosis (bias-corrected Fisher, as pandas and quantstats)."""
    return float(pd.Series(_values(returns)).kurtosis())


def hit_rate(returns: pd.Series) -> float:
    """Share of positive periods among non-zero ones (quantstats ``win_rate``)."""
    r = _values(returns)
    nonzero = r[r != 0]
    return float((nonzero > 0).mean()) if len(nonzero) else float("nan")


def best_period(returns: pd.Series) -> float:
    """Highest single-period return."""
    return float(_values(returns).max())


def worst_period(returns: pd.Series) -> float:
    """Lowest single-period return."""
    return float(_values(returns).min())


def summary(
    returns: pd.Series, *, periods_per_year: float | None = None, risk_free: float = 0.0
) -> pd.Series:
    """Every return metric of this module, as a Series named by metric."""
    ppy = _ppy(returns, periods_per_year)
    return pd.Series(
        {
            "annualized_return": annualized_return(returns, periods_per_year=ppy),
            "cagr": cagr(returns, periods_per_year=ppy),
            "annualized_volatility": annualized_volatility(returns, periods_per_year=ppy),
            "sharpe_ratio": sharpe_ratio(returns, risk_free=risk_free, periods_per_year=ppy),
            "sortino_ratio": sortino_ratio(returns, periods_per_year=ppy),
            "max_drawdown": max_drawdown(returns),
            "calmar_ratio": calmar_ratio(returns, periods_per_year=ppy),
            "value_at_risk": value_at_risk(returns),
            "conditional_value_at_risk": conditional_value_at_risk(returns),
            "skew": skew(returns),
            "kurtosis": kurtosis(returns),
            "hit_rate": hit_rate(returns),
            "best_period": best_period(returns),
            "worst_period": worst_period(returns),
        }
    )


__all__ = [
    "annualized_return",
    "annualized_volatility",
    "best_period",
    "cagr",
    "calmar_ratio",
    "conditional_value_at_risk",
    "downside_risk",
    "hit_rate",
    "infer_periods_per_year",
    "kurtosis",
    "max_drawdown",
    "sharpe_ratio",
    "skew",
    "sortino_ratio",
    "summary",
    "value_at_risk",
    "worst_period",
]
