"""Multiple-testing adjustment of p-values (several strategies against one benchmark)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def holm(
    p_values: pd.Series | np.ndarray | list[float] | tuple[float, ...],
) -> pd.Series | np.ndarray:
    """Holm (1979) step-down adjusted p-values, controlling the family-wise error rate.

    Holm, S. (1979), "A simple sequentially rejective multiple test procedure",
    Scandinavian Journal of Statistics 6(2): with the ``m`` p-values sorted ascending,
    ``p_(1) <= ... <= p_(m)``, the adjusted values are
    ``p~_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))``; rejecting where ``p~ <= alpha``
    is Holm's procedure at level ``alpha``. Ties keep their input order.

    Parameters
    ----------
    p_values
        Raw p-values in [0, 1], shape (m,): a Series, an array or a list.

    Returns
    -------
    pandas.Series or numpy.ndarray
        Adjusted p-values in the input order: a Series with the same index and name for
        a Series, else an array. Each is at least its raw value, at most 1, and they
        rank as the raw ones do.
    """
    if isinstance(p_values, pd.DataFrame):
        raise TypeError(
            f"p_values: expected a 1-d Series or array, got a DataFrame {p_values.shape}"
        )
    try:
        p = np.asarray(p_values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"p_values: expected numbers, got {type(p_values).__name__}") from err
    if p.ndim != 1:
        raise ValueError(f"p_values: expected a 1-d sequence, got shape {p.shape}")
    if not (np.isfinite(p).all() and np.all((p >= 0.0) & (p <= 1.0))):
        raise ValueError(f"p_values: expected finite values in [0, 1], got {p.tolist()}")
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    if isinstance(p_values, pd.Series):
        return pd.Series(adjusted, index=p_values.index, name=p_values.name)
    return adjusted
