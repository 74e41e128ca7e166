"""
Is the difference to equal weight real? Seeds, significance and CPCV paths
==========================================================================

A temporal convolution network with a softmax allocator against equal weight on the
bundled S&P 500 stocks, after 10 bps costs with monthly rebalancing: trained with
several seeds in a yearly walk-forward (one row per seed and one for their ensemble),
tested for significance against equal weight (Ledoit–Wolf interval and p-value, Holm's
adjustment, probabilistic and deflated Sharpe ratios, a verdict in words), and
evaluated again by combinatorial purged cross-validation, whose backtest paths give a
distribution of the Sharpe ratio instead of one number.
"""

# %%
# Two seeds of one epoch each, from mid-2018, and four CPCV groups (the script runs
# three seeds of fifteen epochs from 2012, and six groups).

from examples import significance

out = significance.main(
    start="2018-06-01", first_test="2021-06-01", epochs=1, seeds=2, n_groups=4, n_test_groups=2
)
for line in out["verdicts"]:
    print(line)

# %%
# The significance table: annualised Sharpe ratios and their difference to equal
# weight with its 95% interval, the p-value and its Holm adjustment, and the
# probabilistic and deflated Sharpe ratios.

out["significance"].drop(columns="verdict").round(3)

# %%
# How much of the result is the seed: the spread of every metric across seeds.

out["seed_summary"][["annualized_return", "sharpe_ratio", "max_drawdown"]].round(3)

# %%
# The Sharpe ratio on each CPCV backtest path.

out["path_sharpe"].round(3)

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/significance.py
#    :language: python
