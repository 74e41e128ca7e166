"""Backtest weights that came from elsewhere: a spreadsheet, another library, a rule.

Here the weights are a 12-1 month momentum rule computed with pandas and written to a
CSV, as any external source would provide them. The backtest charges 10 bps on each
monthly rebalance against the drifted holdings.

Run: python -m examples.backtest_external
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from deepalloc.backtest import backtest
from deepalloc.data import prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.visualize import equity_curves


def momentum_weights(prices: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """Equal weights in the ``top`` assets by 12-1 month momentum, decided at month ends."""
    monthly = prices.groupby(prices.index.to_period("M")).tail(1)
    momentum = monthly.shift(1) / monthly.shift(12) - 1
    ranks = momentum.rank(axis=1, ascending=False)
    chosen = (ranks <= top).astype(float)
    return chosen.div(chosen.sum(axis=1), axis=0).dropna(how="all").loc[lambda w: w.sum(axis=1) > 0]


def main(start: str = "2005-01-01", output: str | None = None) -> pd.DataFrame:
    """Write the external weights to CSV, read them back, backtest; returns the summary."""
    prices = load_sp500().loc[start:]
    folder = Path(output) if output else Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    momentum_weights(prices).to_csv(folder / "weights.csv")
    weights = pd.read_csv(folder / "weights.csv", index_col=0, parse_dates=True)  # "from elsewhere"
    returns = prices_to_returns(prices)
    result = backtest(weights, returns, costs_bps=10, rebalance="M")
    equal = backtest(
        pd.DataFrame(1.0 / returns.shape[1], index=weights.index, columns=returns.columns),
        returns,
        costs_bps=10,
        rebalance="M",
    )
    equity_curves({"momentum": result, "equal_weight": equal}).savefig(
        folder / "equity.png", dpi=100
    )
    return pd.concat([result.summary(name="momentum"), equal.summary(name="equal_weight")], axis=1)


if __name__ == "__main__":
    print(main().round(4).to_string())
