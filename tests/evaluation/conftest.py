"""A small synthetic walk-forward suite shared by the evaluation tests."""

import functools

import pytest
import torch

from deepalloc.baselines import InverseVolatility
from deepalloc.data import make_windows, synthetic_market, walk_forward_folds
from deepalloc.evaluation import BaselineStrategy, NetworkStrategy
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet


def small_dense(c, a, lookback):
    return DenseNet(c, lookback, hidden=(8, 4))


@pytest.fixture(scope="module")
def setup():
    returns = synthetic_market(700, 5, seed=4, momentum=0.3)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(
        windows, test_size=150, initial_train=300, train_size=250, val_size=50
    )
    strategies = [
        NetworkStrategy(
            "dense",
            small_dense,
            SharpeLoss(),
            {"epochs": 3, "optimizer": functools.partial(torch.optim.Adam, lr=1e-2)},
        ),
        BaselineStrategy("inverse_volatility", InverseVolatility()),
    ]
    return returns, windows, folds, strategies
