"""
Hyper-parameter search nested inside the walk-forward
=====================================================

An LSTM allocator on the bundled factor ETFs. For every yearly walk-forward fold, Ray
Tune samples learning rates, hidden sizes, lookbacks and weight caps; each trial trains
on the fold's training block and is scored on its purged validation block only, the
best configuration is retrained and tested on the fold's test year, which no trial
saw. The significance table discounts the search: its deflated Sharpe ratio counts the
trials.
"""

# %%
# One test year, two trials of one epoch each, on a local Ray instance with two CPUs
# (the script searches four configurations a year from 2021).

from examples import tuning

result = tuning.main(first_test="2022-01-01", epochs=1, num_samples=2, num_cpus=2)
result.trials

# %%
# The configuration chosen for each fold, and the tuned strategy against equal weight.

result.chosen

# %%

result.suite.significance()[["sharpe_difference", "ci_low", "ci_high", "p_value", "dsr"]]

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/tuning.py
#    :language: python
