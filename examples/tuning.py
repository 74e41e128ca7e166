"""Hyper-parameter search nested inside the walk-forward, on a local Ray instance.

An LSTM allocator on the bundled factor ETFs: for every yearly walk-forward fold, Ray
Tune samples learning rates, hidden sizes, lookbacks and weight caps; each trial trains
on the fold's training block and is scored on its purged validation block only (ASHA
stops trailing trials after each epoch). The best configuration of each fold is
retrained and tested on the fold's test year, which no trial saw, against equal weight.
The significance table discounts the search: its deflated Sharpe ratio counts the
trials.

Run it with ``python examples/tuning.py`` (the ``tune`` extra: ``pip install
'deepalloc[tune]'``). The same search from a TOML file: ``deepalloc tune
examples/config.toml``.
"""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from deepalloc.allocators import SoftmaxAllocator
from deepalloc.baselines import InverseVolatility
from deepalloc.data import prices_to_returns, walk_forward_folds
from deepalloc.datasets import load_factor_etfs
from deepalloc.evaluation import BaselineStrategy, NetworkStrategy
from deepalloc.losses import SharpeLoss
from deepalloc.networks import LSTMNet
from deepalloc.training import EarlyStopping
from deepalloc.tune import Cluster, Search, TuneResult, choice, loguniform, tune_suite, uniform


def lstm(config: Mapping[str, Any], *, epochs: int = 2) -> NetworkStrategy:
    """The LSTM allocator of one configuration (``lookback`` is the windows')."""
    hidden, cap = int(config["hidden_size"]), float(config["max_weight"])

    def build(n_channels: int, n_assets: int, lookback: int) -> torch.nn.Module:
        return LSTMNet(n_channels, hidden_size=hidden, allocator=SoftmaxAllocator(max_weight=cap))

    return NetworkStrategy(
        "lstm",
        build,
        SharpeLoss(),
        {
            "epochs": epochs,
            "optimizer": functools.partial(torch.optim.Adam, lr=float(config["lr"])),
            "early_stopping": EarlyStopping(patience=3),
            "batch_size": 64,
        },
    )


SPACE = {
    "lr": loguniform(1e-3, 3e-2),
    "hidden_size": choice([8, 16]),
    "lookback": choice([20, 40]),
    "max_weight": uniform(0.3, 0.6),
}


def main(
    *,
    start: str = "2019-01-01",
    first_test: str = "2021-01-01",
    epochs: int = 2,
    num_samples: int = 4,
    num_cpus: int = 2,
    storage: str | None = None,
    seed: int = 0,
    resume: bool = False,
    cluster: Cluster | None = None,
    callbacks: Sequence[object] = (),
) -> TuneResult:
    """Search, retrain and test; returns the :class:`~deepalloc.tune.TuneResult`.

    ``storage`` keeps Ray Tune's experiments (default: a temporary folder, removed at
    the end) and ``resume`` continues the search stored there; ``cluster`` joins an
    existing Ray cluster instead of a local instance; ``callbacks`` are training
    callbacks added to every trial (loggers, say).
    """
    returns = prices_to_returns(load_factor_etfs()).loc[start:]
    with tempfile.TemporaryDirectory(prefix="da-tune-") as scratch:
        return tune_suite(
            returns,
            functools.partial(lstm, epochs=epochs),
            SPACE,
            functools.partial(
                walk_forward_folds,
                test_size="Y",
                initial_train=first_test,
                train_size=250,
                val_size=0.2,
            ),
            lookback=40,
            horizon=20,
            storage=storage or scratch,
            search=Search(num_samples=num_samples, resume=resume),
            baselines=[BaselineStrategy("inverse_volatility", InverseVolatility())],
            costs_bps=10,
            rebalance="M",
            seed=seed,
            cluster=cluster or Cluster(num_cpus=num_cpus),
            callbacks=callbacks,
        )


if __name__ == "__main__":
    result = main()
    print(result.trials.to_string())
    print(result.chosen.to_string())
    print(result.suite.significance()[["sharpe_difference", "p_value", "dsr", "verdict"]])
