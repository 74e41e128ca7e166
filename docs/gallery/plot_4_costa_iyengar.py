"""
Reproducing Costa and Iyengar (2023)
====================================

Costa and Iyengar, "Distributionally robust end-to-end portfolio construction",
Quantitative Finance 23(10): a linear factor model predicts next week's returns, and a
mean-variance decision layer, whose risk is the covariance of the model's prediction
errors, turns them into weights; both are trained together on the Sharpe ratio of the
following weeks. The data are the paper's (20 US stocks, 8 factors, weekly). The
equal-weight row reproduces the paper's numbers exactly.
"""

# %%
# One training epoch (the script trains for the paper's schedule): the equal-weight
# row is the paper's, the trained rows are a smoke run.

from examples import costa_iyengar

table = costa_iyengar.main(epochs=1)
table

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/costa_iyengar.py
#    :language: python
