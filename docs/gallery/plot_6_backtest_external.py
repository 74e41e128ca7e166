"""
Backtesting weights from elsewhere
==================================

The backtest takes any weights: here a 12-1 month momentum rule computed with pandas
and written to a CSV file, as a spreadsheet or another library would provide them. The
weights are read back and backtested with 10 bps costs on each monthly rebalance,
against the drifted holdings, beside equal weight.
"""

# %%
# From 2015; the example writes ``weights.csv`` and ``equity.png`` into a folder.

import tempfile

from examples import backtest_external

folder = tempfile.mkdtemp()
table = backtest_external.main(start="2015-01-01", output=folder)
table.round(4)

# %%
# Read the weights file back, as any user of the backtest would, and draw the equity
# curve of the momentum rule.

import pandas as pd

from deepalloc.backtest import backtest
from deepalloc.data import prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.visualize import equity_curves

weights = pd.read_csv(f"{folder}/weights.csv", index_col=0, parse_dates=True)
returns = prices_to_returns(load_sp500().loc["2015-01-01":])
result = backtest(weights, returns, costs_bps=10, rebalance="M")
figure = equity_curves({"momentum": result})

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/backtest_external.py
#    :language: python
