"""Random allocation problems shared by the allocator tests."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import torch


def mean_variance_problem(batch: int, n: int, seed: int, dtype=torch.float64):
    """mu (batch, n), S (batch, n, n), gamma (batch,), alpha (batch,)."""
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, n, generator=g, dtype=dtype) * 0.05
    s = torch.randn(batch, n, n, generator=g, dtype=dtype) * 0.2 / n**0.5
    s = s + 0.05 * torch.eye(n, dtype=dtype)
    gamma = torch.exp(torch.randn(batch, generator=g, dtype=dtype))
    alpha = torch.full((batch,), 0.01, dtype=dtype)
    return mu, s, gamma, alpha


TIGHT = {"solver": "CLARABEL", "tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


def cvxpy_mean_variance(mu, s, gamma, alpha, *, lower=0.0, upper=1.0, gross=None):
    """Reference solution of one mean-variance problem with Clarabel at tight tolerance."""
    n = len(mu)
    w = cp.Variable(n)
    cons = [cp.sum(w) == 1, w >= lower, w <= upper]
    if gross is not None:
        cons.append(cp.norm1(w) <= gross)
    obj = cp.Maximize(mu @ w - gamma * cp.sum_squares(s @ w) - alpha * cp.sum_squares(w))
    cp.Problem(obj, cons).solve(**TIGHT)
    return np.asarray(w.value)


def assert_matches_clarabel(w, mu, s, gamma, alpha, cap) -> int:
    """Check each sample's weights against Clarabel to 1e-6; return how many caps bind."""
    binding = 0
    for i in range(len(mu)):
        ref = cvxpy_mean_variance(
            mu[i].numpy(), s[i].numpy(), gamma[i].item(), alpha[i].item(), upper=cap
        )
        np.testing.assert_allclose(w[i].detach().numpy(), ref, atol=1e-6)
        binding += int((np.abs(ref - cap) < 1e-8).sum())
    return binding


def sp500_month_end_windows(lookback: int = 252):
    """Daily simple returns of the bundled S&P 500 stocks over the ``lookback`` days up
    to every month end from 1991 to 2022: (window, asset, lookback) float64, and the dates.
    """
    from deepalloc.datasets import load_sp500

    returns = load_sp500().pct_change().iloc[1:]
    month_ends = returns.groupby(returns.index.to_period("M")).tail(1).index
    month_ends = month_ends[month_ends.year >= 1991]
    positions = returns.index.get_indexer(month_ends)
    assert (positions >= lookback - 1).all()
    values = returns.to_numpy()
    windows = np.stack([values[p - lookback + 1 : p + 1].T for p in positions])
    return torch.tensor(windows), month_ends
