"""Shared fixtures: small random frames and the path to the shared real data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def random_frame(n_days: int, n_assets: int, seed: int, *, positive: bool = False) -> pd.DataFrame:
    """Random date x asset frame on business days; prices when ``positive``."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 0.01, size=(n_days, n_assets))
    if positive:
        values = 100 * np.exp(np.cumsum(values, axis=0))
    index = pd.bdate_range("2020-01-01", periods=n_days, name="date")
    return pd.DataFrame(values, index=index, columns=[f"a{i}" for i in range(n_assets)])


@pytest.fixture
def returns_frame() -> pd.DataFrame:
    return random_frame(120, 4, seed=0)


@pytest.fixture
def prices_frame() -> pd.DataFrame:
    return random_frame(120, 4, seed=1, positive=True)
