"""Custom convex constraints with ``ConvexAllocator``.

A builder writes any DPP problem: here a long-only portfolio that maximises expected
return minus variance, stays within a tracking-error budget of equal weight, caps each
sector, and limits turnover against the previous portfolio. The layer is
differentiable, so it can sit at the end of a network; here it runs monthly on
rolling estimates and is backtested against equal weight.

Run: python -m examples.custom_convex
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import torch

from deepalloc.allocators import ConvexAllocator
from deepalloc.backtest import backtest
from deepalloc.data import make_windows, prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.functional.risk import covariance, matrix_sqrt, shrink
from examples.thesis_architectures import sector_groups


def tracking_error_layer(
    n: int, groups: list[tuple[list[int], float]], te: float, turnover: float
) -> ConvexAllocator:
    """max mu'w - ||S w||^2 s.t. ||S (w - 1/n)|| <= te, sector caps, turnover cap."""

    def build(w: cp.Variable, p: dict[str, cp.Parameter]) -> cp.Problem:
        benchmark = np.full(n, 1.0 / n)
        constraints = [
            cp.sum(w) == 1,
            w >= 0,
            cp.norm(p["cov_sqrt"] @ (w - benchmark), 2) <= te,
            cp.norm1(w - p["previous"]) <= turnover,
        ]
        constraints += [cp.sum(w[idx]) <= cap for idx, cap in groups]
        objective = cp.Maximize(p["mu"] @ w - cp.sum_squares(p["cov_sqrt"] @ w))
        return cp.Problem(objective, constraints)

    return ConvexAllocator(
        n, builder=build, parameters={"mu": (n,), "cov_sqrt": (n, n), "previous": (n,)}
    )


def main(
    start: str = "2018-01-01", te: float = 0.02, sector_cap: float = 0.35, turnover: float = 0.5
) -> dict[str, object]:
    """Monthly decisions from a 120-day window; returns the summary table and the weights."""
    returns = prices_to_returns(load_sp500())
    assets = list(returns.columns)
    n = len(assets)
    windows = make_windows(returns.loc[start:], lookback=120, horizon=0, dtype=torch.float64)
    month_ends = windows.timestamps.to_series().groupby(windows.timestamps.to_period("M")).max()
    rows = windows.timestamps.get_indexer(month_ends)
    x = windows.x[rows, 0]  # (months, asset, lookback)
    mu = x.mean(-1) * 21  # monthly expected returns
    cov_sqrt = matrix_sqrt(shrink(covariance(x) * 21, "constant_correlation", 0.3))
    layer = tracking_error_layer(n, sector_groups(assets, sector_cap), te, turnover)
    previous = torch.full((n,), 1.0 / n, dtype=torch.float64)
    decided = []
    for i in range(len(rows)):  # sequential: each month's turnover limit uses the last month
        w = layer(mu=mu[i : i + 1], cov_sqrt=cov_sqrt[i : i + 1], previous=previous[None])[0]
        decided.append(w)
        previous = w
    weights = pd.DataFrame(
        torch.stack(decided).numpy(), index=month_ends.to_numpy(), columns=assets
    )
    equal = pd.DataFrame(1.0 / n, index=weights.index, columns=assets)
    table = pd.concat(
        [
            backtest(weights, returns, costs_bps=10).summary(name="tracking_error_mv"),
            backtest(equal, returns, costs_bps=10).summary(name="equal_weight"),
        ],
        axis=1,
    )
    return {"table": table, "weights": weights}


if __name__ == "__main__":
    print(main()["table"].round(4).to_string())
