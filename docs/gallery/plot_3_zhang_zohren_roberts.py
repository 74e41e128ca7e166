"""
An LSTM trained on the Sharpe ratio, retrained every year
=========================================================

In the style of Zhang, Zohren and Roberts (2020), "Deep learning for portfolio
optimisation": an LSTM reads the recent returns and log prices of five factor ETFs, a
softmax gives long-only weights, and the whole is trained to maximise the Sharpe ratio,
retrained every calendar year (walk-forward, purged validation for early stopping).
"""

# %%
# A small LSTM and one epoch, tested on 2022 only (the script tests from 2018 with
# thirty epochs).

from examples import zhang_zohren_roberts

table = zhang_zohren_roberts.main(first_test="2022-01-01", epochs=1, hidden_size=8)
table[["annualized_return", "annualized_volatility", "sharpe_ratio", "max_drawdown"]].round(3)

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/zhang_zohren_roberts.py
#    :language: python
