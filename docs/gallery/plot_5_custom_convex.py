"""
Custom convex constraints: tracking error, sectors and turnover
===============================================================

``ConvexAllocator`` accepts any DPP problem written with cvxpy. Here: a long-only
portfolio that maximises expected return minus variance, stays within a tracking-error
budget of equal weight, caps each sector at 35% and trades at most 50% a month against
the previous portfolio. The layer is differentiable, so it could end a network; here it
runs monthly on rolling estimates and is backtested against equal weight.
"""

# %%
# From mid-2021, with a 3% tracking-error budget.

from examples import custom_convex

out = custom_convex.main(start="2021-06-01", te=0.03)
out["table"].round(4)

# %%
# The monthly decisions: the turnover limit keeps them close from month to month.

from deepalloc.visualize import weights_area

figure = weights_area(out["weights"], title="tracking-error portfolio")

# %%
# The example's code
# ------------------
#
# .. literalinclude:: /../examples/custom_convex.py
#    :language: python
