"""The thesis architectures: dense, asset-wise convolutional and LSTM networks with a
softmax, a normalized-tanh (long-short) allocator, and a convex layer with sector
exposure limits, compared walk-forward with equal weight after costs.

Run: python -m examples.thesis_architectures
"""

from __future__ import annotations

import functools

import pandas as pd
import torch

from deepalloc.allocators import ConvexAllocator, TanhAllocator
from deepalloc.data import holdout_split, make_windows, prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.evaluate import NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import ConvNet, DenseNet, LSTMNet
from deepalloc.training import EarlyStopping

SECTORS = {
    "technology": ["AAPL", "AMD", "MSFT"],
    "financials": ["BAC", "JPM"],
    "energy": ["CVX", "RRC", "XOM"],
    "health care": ["JNJ", "LLY", "MRK", "PFE", "UNH"],
    "consumer": ["BBY", "HD", "KO", "PEP", "PG", "WMT"],
    "industrials": ["GE"],
}


def sector_groups(assets: list[str], limit: float) -> list[tuple[list[int], float]]:
    """Convex-layer groups: -limit <= sum of each sector's weights <= limit."""
    return [
        ([assets.index(a) for a in members if a in assets], limit) for members in SECTORS.values()
    ]


def main(
    start: str = "2016-01-01", epochs: int = 20, convex_epochs: int = 3, sector_limit: float = 0.35
) -> pd.DataFrame:
    """Returns the comparison table (strategies x metrics, with differences to equal weight)."""
    returns = prices_to_returns(load_sp500().loc[start:])
    assets = list(returns.columns)
    windows = make_windows(returns, lookback=40, horizon=20)
    fold = holdout_split(windows, test=0.3, val=0.15)
    options = {
        "epochs": epochs,
        "optimizer": functools.partial(torch.optim.Adam, lr=1e-3),
        "early_stopping": EarlyStopping(patience=5),
        "batch_size": 64,
    }
    convex = {
        "epochs": convex_epochs,
        "optimizer": functools.partial(torch.optim.Adam, lr=1e-2),
        "early_stopping": EarlyStopping(patience=5),
        "batch_size": 128,
    }
    strategies = [
        NetworkStrategy("dense_softmax", lambda c, a, lb: DenseNet(c, lb), SharpeLoss(), options),
        NetworkStrategy("conv_softmax", lambda c, a, lb: ConvNet(c, lb), SharpeLoss(), options),
        NetworkStrategy(
            "lstm_softmax", lambda c, a, lb: LSTMNet(c, hidden_size=16), SharpeLoss(), options
        ),
        NetworkStrategy(
            "lstm_tanh",
            lambda c, a, lb: LSTMNet(c, hidden_size=16, allocator=TanhAllocator()),
            SharpeLoss(),
            options,
        ),
        NetworkStrategy(
            "dense_convex_sectors",
            lambda c, a, lb: DenseNet(
                c,
                lb,
                allocator=ConvexAllocator(
                    a, max_weight=0.2, groups=sector_groups(assets, sector_limit)
                ),
            ),
            SharpeLoss(),
            convex,
        ),
    ]
    result = run_suite(
        windows, strategies, [fold], returns=returns, costs_bps=10, rebalance="M", seed=0
    )
    return result.comparison()


if __name__ == "__main__":
    table = main()
    print(
        table[["annualized_return", "sharpe_ratio", "sharpe_ratio vs EW", "max_drawdown"]]
        .round(3)
        .to_string()
    )
