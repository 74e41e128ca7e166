"""Return series for the statistics tests: the bundled S&P 500 data and simulated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from deepalloc.data import prices_to_returns
from deepalloc.datasets import load_sp500


@pytest.fixture(scope="session")
def sp500_pair() -> tuple[pd.Series, pd.Series]:
    """Daily AAPL returns and the equal-weight (daily rebalanced) portfolio, 2015-2022."""
    returns = prices_to_returns(load_sp500()).loc["2015":]
    return returns["AAPL"], returns.mean(axis=1).rename("equal_weight")


@pytest.fixture(scope="session")
def simulated_pair() -> tuple[np.ndarray, np.ndarray]:
    """1,500 correlated Student-t returns with AR(1) dependence: non-normal, not iid."""
    rng = np.random.default_rng(20240611)
    shocks = rng.standard_t(df=5, size=(1500, 2)) @ np.array([[1.0, 0.5], [0.0, 0.8]])
    out = np.empty_like(shocks)
    out[0] = shocks[0]
    for t in range(1, len(shocks)):
        out[t] = 0.2 * out[t - 1] + shocks[t]
    return 0.01 * out[:, 0] + 0.0008, 0.01 * out[:, 1] + 0.0003


@pytest.fixture(params=["aapl", "equal_weight", "sim_a", "sim_b"])
def returns_case(request, sp500_pair, simulated_pair) -> pd.Series | np.ndarray:
    """One return series at a time: two real (Series) and two simulated (arrays)."""
    cases = dict(zip(["aapl", "equal_weight", "sim_a", "sim_b"], [*sp500_pair, *simulated_pair]))
    return cases[request.param]


@pytest.fixture(params=["sp500", "simulated"])
def pair_case(request, sp500_pair, simulated_pair):
    """A pair of return series on the same dates, real or simulated."""
    return sp500_pair if request.param == "sp500" else simulated_pair
