"""Performance metrics of a simple-returns Series, as quantstats and empyrical define them.

Periods per year are inferred from the median spacing of the index (daily 252, weekly
52, monthly 12, quarterly 4, yearly 1) and can be given with ``periods_per_year=``.
Where quantstats and empyrical differ, empyrical's definition is used and the docstring
says so (checked against quantstats 0.0.86 and empyrical 0.5.5). Every function takes a
``pandas.Series`` of simple per-period returns; quantities expressed as returns keep a
return's sign (drawdown, VaR and CVaR are negative for losses) and Sharpe ratios are
annualised (:ref:`conventions-signs`, :ref:`conventions-sharpe`).

Degenerate series have a defined value, stated in each docstring, and never raise from
arithmetic or return a complex number:

- a wealth path that reaches zero or below (a return of -100% or worse, possible with
  shorts or leverage) has a CAGR of -1;
- a ratio whose risk is exactly zero (a constant series, no return below the target)
  is ``+inf``/``-inf`` by the sign of its numerator and NaN when that is zero, as
  empyrical's ``np.divide``;
- statistics that need more observations than given (a standard deviation of one
  return, skewness of fewer than 3, kurtosis of fewer than 4) are NaN.
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


def _ratio(numerator: float, risk: float) -> float:
    """``numerator / risk``, with empyrical's values at zero risk (+-inf, or NaN for 0/0)."""
    if risk > 0:
        return numerator / risk
    if numerator == 0 or np.isnan(risk):
        return float("nan")
    return float(np.copysign(np.inf, numerator))


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof 1): exactly 0 for a constant series, NaN for one value."""
    if len(values) < 2:
        return float("nan")
    if np.ptp(values) == 0:
        return 0.0  # the float mean of equal values may differ from them by an ulp
    return float(values.std(ddof=1))


def annualized_return(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Arithmetic mean return times periods per year."""
    return float(_values(returns).mean() * _ppy(returns, periods_per_year))


def cagr(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Compound annual growth rate ``prod(1 + r) ** (ppy / n) - 1``.

    Years are counted as periods over periods per year, as empyrical's
    ``annual_return`` and today's quantstats ``cagr`` do. A wealth path that reaches
    zero or below (any return of -100% or worse) has lost everything: its CAGR is
    -1. (Both libraries give -1 when the final wealth is exactly zero; for a negative
    final wealth they give NaN, and after two such returns a meaningless positive
    rate.) Computed through logarithms, so long series do not overflow.
    """
    r = _values(returns)
    if (r <= -1.0).any():
        return -1.0
    with np.errstate(over="ignore"):
        return float(np.expm1(np.log1p(r).sum() * _ppy(returns, periods_per_year) / len(r)))


def annualized_volatility(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """Standard deviation (ddof 1) times ``sqrt(ppy)``; 0 for a constant series, NaN for a
    single return (empyrical and quantstats)."""
    return _std(_values(returns)) * float(np.sqrt(_ppy(returns, periods_per_year)))


def sharpe_ratio(
    returns: pd.Series, *, risk_free: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``mean(r - rf) / std(r - rf, ddof=1) * sqrt(ppy)``; ``risk_free`` is per period.

    NaN for fewer than two returns (empyrical); for a constant series (zero
    volatility) ``+inf`` or ``-inf`` by the sign of the mean excess return, NaN when it
    is zero (empyrical's and quantstats' division).
    """
    excess = _values(returns) - risk_free
    if len(excess) < 2:
        return float("nan")
    ratio = _ratio(float(excess.mean()), _std(excess))
    return ratio * float(np.sqrt(_ppy(returns, periods_per_year)))


def downside_risk(
    returns: pd.Series, *, target: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``sqrt(mean(min(r - target, 0)^2)) * sqrt(ppy)`` (empyrical); 0 when no return is
    below ``target``."""
    below = np.minimum(_values(returns) - target, 0.0)
    return float(np.sqrt(np.mean(below**2)) * np.sqrt(_ppy(returns, periods_per_year)))


def sortino_ratio(
    returns: pd.Series, *, target: float = 0.0, periods_per_year: float | None = None
) -> float:
    """``mean(r - target) * ppy / downside_risk`` (empyrical; quantstats agrees at target 0).

    NaN for fewer than two returns (empyrical). Without a return below ``target`` the
    downside risk is zero and the ratio is ``+inf`` (empyrical; quantstats gives NaN),
    or NaN when every return equals ``target``.
    """
    r = _values(returns)
    if len(r) < 2:
        return float("nan")
    ppy = _ppy(returns, periods_per_year)
    mean = float((r - target).mean()) * ppy
    return _ratio(mean, downside_risk(returns, target=target, periods_per_year=ppy))


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall of compounded wealth, a negative fraction (0 without one).

    The wealth path starts at 1 before the first period, as in empyrical and today's
    quantstats (its phantom baseline), so a first-period loss counts. Below -1 when the
    wealth turns negative (losses beyond the capital, possible with shorts or leverage).
    """
    wealth = np.concatenate([[1.0], np.cumprod(1.0 + _values(returns))])
    peak = np.maximum.accumulate(wealth)
    return float(np.min(wealth / peak - 1.0))


def calmar_ratio(returns: pd.Series, *, periods_per_year: float | None = None) -> float:
    """CAGR over the absolute maximum drawdown; NaN without a drawdown (empyrical)."""
    mdd = max_drawdown(returns)
    return cagr(returns, periods_per_year=periods_per_year) / abs(mdd) if mdd < 0 else float("nan")


def value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Historical VaR: the ``1 - confidence`` quantile of returns (negative is a loss),
    empyrical's ``value_at_risk(cutoff=1 - confidence)``, linear interpolation between
    order statistics (quantstats' ``value_at_risk`` is parametric, a normal quantile)."""
    check_confidence(confidence)
    return float(np.percentile(_values(returns), 100 * (1.0 - confidence)))


def conditional_value_at_risk(returns: pd.Series, *, confidence: float = 0.95) -> float:
    """Historical CVaR: mean of the worst ``int((n - 1) (1 - confidence)) + 1`` returns
    (negative is a loss), empyrical's ``conditional_value_at_risk(cutoff=1 - confidence)``;
    the same tail as the CVaR loss (:func:`deepalloc._tail.tail_count`). quantstats'
    default is parametric and its ``method="historical"`` averages the returns at or
    below the interpolated quantile, a tail that can differ by one return."""
    r = _values(returns)
    k = tail_count(len(r), confidence)
    return float(np.mean(np.partition(r, k - 1)[:k]))


def skew(returns: pd.Series) -> float:
    """Sample skewness (bias-corrected, as pandas and quantstats); NaN for fewer than 3
    returns or a constant series."""
    return float(pd.Series(_values(returns)).skew())


def kurtosis(returns: pd.Series) -> float:
    """Excess kurtosis (bias-corrected Fisher, as pandas and quantstats); NaN for fewer
    than 4 returns or a constant series."""
    return float(pd.Series(_values(returns)).kurtosis())


def hit_rate(returns: pd.Series) -> float:
    """Share of positive periods among non-zero ones (quantstats ``win_rate``); NaN when
    every return is zero (quantstats warns and gives 0)."""
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
