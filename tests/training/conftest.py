"""A small synthetic market and loaders shared by the training tests."""

import pytest

from deepalloc.data import WindowLoader, make_windows, synthetic_market


@pytest.fixture(scope="module")
def market():
    returns = synthetic_market(900, 6, seed=0, momentum=0.3)
    return make_windows(returns, lookback=20, horizon=5)


def loaders(windows, fold, batch_size=32, seed=0):
    train = WindowLoader(windows, fold.train, batch_size=batch_size, shuffle=True, generator=seed)
    val = WindowLoader(windows, fold.val, batch_size=256)
    return train, val
