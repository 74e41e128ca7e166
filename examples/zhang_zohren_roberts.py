"""In the style of Zhang, Zohren & Roberts (2020), "Deep learning for portfolio
optimisation": an LSTM reads the recent prices and returns of the assets, a softmax
gives long-only weights, and the whole thing is trained to maximise the Sharpe ratio,
here on the five bundled factor ETFs, retrained every year (walk-forward).

Run: python -m examples.zhang_zohren_roberts
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import torch

from deepalloc.data import make_windows, prices_to_returns, walk_forward_folds
from deepalloc.datasets import load_factor_etfs
from deepalloc.evaluate import NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import LSTMNet
from deepalloc.training import EarlyStopping


def main(first_test: str = "2018-01-01", epochs: int = 30, hidden_size: int = 64) -> pd.DataFrame:
    """Returns the comparison table against equal weight."""
    prices = load_factor_etfs()
    returns = prices_to_returns(prices)
    log_prices = np.log(prices.loc[returns.index])  # each window is normalised by the network
    windows = make_windows(
        {"returns": returns, "log_prices": log_prices}, lookback=50, horizon=20, targets=returns
    )
    folds = walk_forward_folds(windows, test_size="Y", initial_train=first_test, val_size=0.15)
    strategy = NetworkStrategy(
        "lstm_sharpe",
        lambda c, a, lb: LSTMNet(c, hidden_size=hidden_size),
        SharpeLoss(),
        {
            "epochs": epochs,
            "optimizer": functools.partial(torch.optim.Adam, lr=1e-3),
            "early_stopping": EarlyStopping(patience=5),
            "batch_size": 64,
        },
    )
    result = run_suite(
        windows, [strategy], folds, returns=returns, costs_bps=1, rebalance="W", seed=0
    )
    return result.comparison()


if __name__ == "__main__":
    print(
        main()[["annualized_return", "annualized_volatility", "sharpe_ratio", "max_drawdown"]]
        .round(3)
        .to_string()
    )
