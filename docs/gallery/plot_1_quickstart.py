"""
Quickstart: a network against equal weight
==========================================

A dense network with a softmax allocator is trained on the Sharpe ratio of the bundled
S&P 500 stocks (purged train | validation | test split, early stopping), then it and
equal weight are backtested on the test period with 10 bps costs and monthly
rebalancing. A user-defined callback records the validation Sharpe ratio of every
epoch: new training features are objects handed to ``fit``, not keywords.
"""

# %%
# Run the example in a small setting: data from 2019, two epochs (the script's default
# is 2015 and thirty epochs).

from examples import quickstart

table = quickstart.main(start="2019-01-01", epochs=2)
table.round(4)

# %%
# The callback's record: the validation Sharpe ratio after each epoch (per step of the
# 20-day horizon, not annualised).

import matplotlib.pyplot as plt

sharpe = table.attrs["validation_sharpe"]
fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(range(1, len(sharpe) + 1), sharpe, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("validation Sharpe (per step)")
fig.tight_layout()

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/quickstart.py
#    :language: python
