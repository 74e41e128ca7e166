"""Suites shared by the reporting tests: a small walk-forward suite with a network
trained with two seeds and monthly rebalancing, and a CPCV suite of baselines."""

from __future__ import annotations

import pytest

from deepalloc.baselines import InverseVolatility, SingleAsset
from deepalloc.data import (
    combinatorial_purged_folds,
    cpcv_paths,
    make_windows,
    synthetic_market,
    walk_forward_folds,
)
from deepalloc.evaluate import BaselineStrategy, NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet

ODD_NAME = "inverse <vol> & co"
"""A baseline name with characters that HTML must escape and file names must avoid."""


def small_dense(channels, assets, lookback):
    return DenseNet(channels, lookback, hidden=(8, 4))


@pytest.fixture(scope="session")
def suite():
    returns = synthetic_market(500, 4, seed=5)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(windows, test_size=100, initial_train=250, val_size=40)
    strategies = [
        NetworkStrategy("dense", small_dense, SharpeLoss(), {"epochs": 2}),
        BaselineStrategy(ODD_NAME, InverseVolatility()),
    ]
    return run_suite(
        windows, strategies, folds, returns=returns, costs_bps=10, rebalance="M", seeds=2
    )


@pytest.fixture(scope="session")
def cpcv_suite():
    returns = synthetic_market(400, 3, seed=7)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = combinatorial_purged_folds(windows, n_groups=5, n_test_groups=2)
    paths = cpcv_paths(folds, 5, 2)
    strategies = [
        BaselineStrategy("inverse_volatility", InverseVolatility()),
        BaselineStrategy("single_a0", SingleAsset(0)),
    ]
    return run_suite(windows, strategies, folds, returns=returns, paths=paths)


@pytest.fixture(scope="session")
def report_dir(suite, tmp_path_factory):
    """The report of ``suite``, written once (read-only use)."""
    from deepalloc.report import report

    return report(suite, tmp_path_factory.mktemp("report")).parent
