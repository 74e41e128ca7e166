"""Quickstart: a softmax network against equal weight on the bundled S&P 500 data.

It also shows a user-defined training callback (``ValidationSharpe``), the way new
training features are added: as objects handed to ``fit``, not as keywords.

Run: python -m examples.quickstart
"""

from __future__ import annotations

import functools

import pandas as pd
import torch

from deepalloc.backtest import backtest
from deepalloc.baselines import EqualWeight
from deepalloc.data import WindowLoader, holdout_split, make_windows, prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet
from deepalloc.training import Callback, EarlyStopping, Run, fit, predict


class ValidationSharpe(Callback):
    """A user-defined callback: keeps the validation Sharpe ratio of every epoch.

    ``run.scores`` holds the epoch's validation metrics; the ``"loss"`` metric is the
    training loss on the validation block, minus the Sharpe ratio, so it is negated.
    """

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_epoch_end(self, run: Run) -> None:
        self.values.append(-run.scores["loss"])


def main(start: str = "2015-01-01", epochs: int = 30, seed: int = 0) -> pd.DataFrame:
    """Train a dense softmax network, backtest it and equal weight on the test period.

    Returns the summary table (metrics x strategies); ``table.attrs["validation_sharpe"]``
    holds the validation Sharpe ratio of every epoch, from the callback.
    """
    returns = prices_to_returns(load_sp500().loc[start:])
    windows = make_windows(returns, lookback=60, horizon=20)
    fold = holdout_split(windows, test=0.3, val=0.15)  # purged train | val | test
    train = WindowLoader(windows, fold.train, batch_size=32, shuffle=True, generator=seed)
    val = WindowLoader(windows, fold.val, batch_size=256)

    sharpe_log = ValidationSharpe()
    torch.manual_seed(seed)  # the example's own choice of initial weights
    network = DenseNet(n_channels=1, lookback=60)  # softmax allocator by default
    fit(
        network,
        SharpeLoss(),
        train,
        val_loader=val,
        epochs=epochs,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        early_stopping=EarlyStopping(patience=5),
        callbacks=[sharpe_log],
        seed=seed,
        progress=False,
    )

    test_dates = windows.timestamps[fold.test]
    test_inputs = returns.loc[: test_dates[-1]]
    net_weights = predict(network, test_inputs, lookback=60).loc[test_dates]
    ew_weights = predict(EqualWeight(), test_inputs, lookback=60).loc[test_dates]
    table = pd.concat(
        [
            backtest(net_weights, returns, costs_bps=10, rebalance="M").summary(
                name="dense_softmax"
            ),
            backtest(ew_weights, returns, costs_bps=10, rebalance="M").summary(name="equal_weight"),
        ],
        axis=1,
    )
    table.attrs["validation_sharpe"] = sharpe_log.values
    return table


if __name__ == "__main__":
    print(main().round(4).to_string())
