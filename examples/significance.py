"""Is the network's difference to equal weight real? Seeds, CPCV paths and a verdict.

One network (a temporal convolution network with a softmax allocator, trained on the
Sharpe ratio) against equal weight on the bundled S&P 500 data, after 10 bps costs with
monthly rebalancing:

1. walk-forward (retrained every year), trained with several seeds: each seed's row,
   the ensemble of the seeds, and the spread of the Sharpe ratio across seeds;
2. the significance of every row against equal weight: the Sharpe difference with its
   confidence interval and p-value (Ledoit and Wolf 2008), Holm's adjustment for the
   several rows, the probabilistic and deflated Sharpe ratios, and a verdict in words;
3. combinatorial purged cross-validation (López de Prado 2018): the distribution of the
   Sharpe ratio over the backtest paths, a second view of how much of a result is luck.

Run: python -m examples.significance
"""

from __future__ import annotations

import functools

import pandas as pd
import torch

from deepalloc.data import (
    combinatorial_purged_folds,
    cpcv_paths,
    make_windows,
    prices_to_returns,
    walk_forward_folds,
)
from deepalloc.datasets import load_sp500
from deepalloc.evaluation import NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import TCNNet
from deepalloc.training import EarlyStopping


def tcn(n_channels: int, n_assets: int, lookback: int) -> TCNNet:
    """The network every fold and seed trains afresh."""
    return TCNNet(n_channels, channels=(16, 16, 16, 16))


def main(
    start: str = "2012-01-01",
    first_test: str = "2017-01-01",
    epochs: int = 15,
    seeds: int = 3,
    n_groups: int = 6,
    n_test_groups: int = 2,
) -> dict[str, object]:
    """Run both evaluations; returns the tables and the verdict lines."""
    returns = prices_to_returns(load_sp500().loc[start:])
    windows = make_windows(returns, lookback=60, horizon=20)
    strategy = NetworkStrategy(
        "tcn_softmax",
        tcn,
        SharpeLoss(),
        {
            "epochs": epochs,
            "optimizer": functools.partial(torch.optim.Adam, lr=3e-3),
            "early_stopping": EarlyStopping(patience=4),
            "batch_size": 64,
        },
    )
    trading = {"returns": returns, "costs_bps": 10.0, "rebalance": "M"}
    folds = walk_forward_folds(windows, test_size="Y", initial_train=first_test, val_size=0.2)
    walk_forward = run_suite(windows, [strategy], folds, seeds=seeds, **trading)
    significance = walk_forward.significance()
    combinatorial = combinatorial_purged_folds(windows, n_groups, n_test_groups, val_size=0.15)
    paths = cpcv_paths(combinatorial, n_groups, n_test_groups)
    cpcv = run_suite(windows, [strategy], combinatorial, paths=paths, **trading)
    assert cpcv.path_tables is not None
    path_sharpe = cpcv.path_tables["sharpe_ratio"].unstack("strategy")
    return {
        "table": walk_forward.table,
        "seed_summary": walk_forward.seed_summary(),
        "significance": significance,
        "verdicts": list(significance["verdict"]),
        "path_sharpe": path_sharpe,
    }


if __name__ == "__main__":
    out = main()
    print("\n".join(out["verdicts"]))  # type: ignore[arg-type]
    with pd.option_context("display.width", 160, "display.precision", 3):
        print(out["seed_summary"])
        print(out["path_sharpe"].describe())
