"""
Trading costs: a network that knows what it holds and what trading costs
========================================================================

One temporal convolution network with a softmax allocator on the bundled S&P 500
stocks, trained in a walk-forward in two ways: cost-unaware (ordinary training on
independent windows, costs paid only in the backtest) and cost-aware (the network sees
the portfolio it holds and is trained sequentially, along runs of monthly decisions
whose trades pay the cost inside the loss), at several costs, and a control trained
sequentially without costs (what the sequential mode alone does). Every version is
backtested after the same costs with monthly rebalancing: the average turnover, the
after-cost Sharpe ratio with its 95% interval, and the Ledoit–Wolf test of the
cost-aware minus the cost-unaware Sharpe ratio.
"""

# %%
# One epoch of each kind of training, from 2019, tested from mid-2021, at 10 and 50 bps
# (the script trains up to 15 ordinary and 60 sequential epochs from 2010, tests
# 2017-2022, at 10, 25 and 50 bps; its results are in ``benchmarks/RESULTS.md``).
# With so little training the numbers say nothing about the method; the page shows
# what the example computes.

import tempfile

from examples import trading_costs

table = trading_costs.main(
    start="2019-01-01",
    first_test="2021-06-01",
    epochs=1,
    sequential_epochs=1,
    costs=(10.0, 50.0),
    output=tempfile.mkdtemp(),
)
table.round(3)

# %%
# Turnover against cost: the cost-unaware network, the control and equal weight trade
# the same weights at every cost; each cost-aware network was trained for its own cost.

figure = trading_costs.turnover_figure(table)

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/trading_costs.py
#    :language: python
