"""Validation of the return series, pairs, seeds and levels that ``deepalloc.stats`` takes.

NumPy and pandas only (no torch): ``deepalloc._checks`` imports torch, so the checks the
statistics need are written here.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd

ReturnsLike: TypeAlias = pd.Series | np.ndarray
SeedLike: TypeAlias = int | np.random.Generator | None


def as_returns(returns: object, name: str = "returns", *, min_length: int = 3) -> np.ndarray:
    """Return ``returns`` as a finite, non-constant 1-d float64 array of ``min_length``+ values."""
    if isinstance(returns, pd.DataFrame):
        raise TypeError(
            f"{name}: expected a 1-d Series or array, got a DataFrame of shape {returns.shape} "
            "(pass one column)"
        )
    try:
        values = np.asarray(returns, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected numeric values, got {type(returns).__name__}") from err
    if values.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d series, got shape {values.shape}")
    if len(values) < min_length:
        raise ValueError(f"{name}: expected at least {min_length} observations, got {len(values)}")
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"{name}: expected finite values, got {int(bad.sum())} NaN or infinite "
            f"(first at position {int(np.flatnonzero(bad)[0])})"
        )
    if np.ptp(values) == 0.0:
        raise ValueError(f"{name}: expected returns that vary, got a constant series")
    return values


def as_pair(a: object, b: object, *, min_length: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Two return series on the same dates: equal indexes for two Series, else equal lengths."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series) and not a.index.equals(b.index):
        if len(a) != len(b):
            detail = f"lengths {len(a)} and {len(b)}"
        else:
            first = int(np.flatnonzero(a.index != b.index)[0])
            detail = f"first difference at position {first}: {a.index[first]} vs {b.index[first]}"
        raise ValueError(f"a, b: expected Series on the same dates (equal indexes), got {detail}")
    x = as_returns(a, "a", min_length=min_length)
    y = as_returns(b, "b", min_length=min_length)
    if len(x) != len(y):
        raise ValueError(
            f"a, b: expected the same number of observations, got {len(x)} and {len(y)}"
        )
    return x, y


def as_generator(seed: object) -> np.random.Generator:
    """A NumPy Generator from a Generator, an int seed or ``None`` (fresh OS entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"seed: expected an int, a numpy.random.Generator or None, got {type(seed).__name__}"
        )
    return np.random.default_rng(int(seed))


def check_probability(name: str, value: object) -> float:
    """Return ``value`` as a float strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"{name}: expected a float in (0, 1), got {type(value).__name__}")
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name}: expected a value in (0, 1), got {value}")
    return float(value)


def check_count(name: str, value: object, *, low: int = 1) -> int:
    """Return ``value`` as an int of at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an integer of at least {low}, got {value}")
    return int(value)


def check_real(name: str, value: object, *, low: float | None = None) -> float:
    """Return ``value`` as a finite float (of at least ``low`` when given)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__} {value!r}")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if low is not None and out < low:
        raise ValueError(f"{name}: expected a number of at least {low}, got {value}")
    return out
