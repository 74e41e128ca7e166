"""
Dense, convolutional and recurrent networks, long-short and sector limits
=========================================================================

The architectures of a master's thesis on end-to-end allocation: a dense network, an
asset-wise convolutional network and an LSTM, each with a softmax allocator; the LSTM
again with a normalized-tanh (long-short) allocator; and the dense network with a
convex layer that caps every weight at 20% and every sector at 35%. All of them are
trained on the Sharpe ratio and compared with equal weight after 10 bps costs.
"""

# %%
# One epoch each (three for the convex layer by default) from mid-2020: a smoke run of
# the pipeline, not a result.

from examples import thesis_architectures

table = thesis_architectures.main(start="2020-06-01", epochs=1, convex_epochs=1)
table[["annualized_return", "sharpe_ratio", "sharpe_ratio vs EW", "max_drawdown"]].round(3)

# %%
# Sharpe ratio of each strategy, with equal weight as the reference line.

import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(6, 3))
table["sharpe_ratio"].sort_values().plot.barh(ax=ax)
ax.axvline(table.loc["equal_weight", "sharpe_ratio"], color="black", linestyle="--")
ax.set_xlabel("annualised Sharpe ratio (test period)")
fig.tight_layout()

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/thesis_architectures.py
#    :language: python
