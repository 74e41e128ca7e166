"""The public batched QP solver: input checks (the solver itself is tested through
MarkowitzAllocator in test_markowitz.py and test_qp_primal.py)."""

import pytest
import torch

from deepalloc.allocators import solve_box_qp
from deepalloc.errors import NonFiniteError


def problem(batch=3, n=3, groups=1):
    p = torch.eye(n, dtype=torch.float64).expand(batch, n, n).clone()
    q = torch.zeros(batch, n, dtype=torch.float64)
    lower = torch.zeros(batch, n, dtype=torch.float64)
    upper = torch.ones(batch, n, dtype=torch.float64)
    totals = torch.ones(batch, groups, dtype=torch.float64)
    return p, q, totals, lower, upper


def test_infeasible_totals_are_refused_naming_the_samples():
    # three assets in [0, 1] cannot sum to 5: this used to return [3, 1, 1]
    p, q, totals, lower, upper = problem()
    totals[1] = 5.0
    with pytest.raises(ValueError, match=r"totals: expected .* samples \[1\]"):
        solve_box_qp(p, q, totals=totals, lower=lower, upper=upper)
    totals[1] = -0.5  # below the sum of the lower bounds
    with pytest.raises(ValueError, match=r"totals: .*infeasible totals in samples \[1\]"):
        solve_box_qp(p, q, totals=totals, lower=lower, upper=upper)


def test_totals_at_the_edge_of_feasibility_are_solved_inside_the_bounds():
    p, q, totals, lower, upper = problem(n=4, groups=2)
    totals[:, 0] = 2.0  # the first group's upper bounds sum to exactly 2
    q = torch.randn(3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = solve_box_qp(p, q, totals=totals, lower=lower, upper=upper, groups=2)
    torch.testing.assert_close(x[:, :2], torch.ones(3, 2, dtype=torch.float64))
    assert (x >= 0).all() and (x <= 1).all()


def test_crossed_bounds_shapes_and_non_finite_inputs_are_refused():
    p, q, totals, lower, upper = problem()
    bad_lower = lower.clone()
    bad_lower[2, 0] = 2.0
    with pytest.raises(ValueError, match=r"expected lower <= upper, .* samples \[2\]"):
        solve_box_qp(p, q, totals=totals, lower=bad_lower, upper=upper)
    with pytest.raises(ValueError, match=r"totals: expected shape \(3, 1\), got \(3, 2\)"):
        solve_box_qp(p, q, totals=totals.expand(3, 2), lower=lower, upper=upper)
    with pytest.raises(ValueError, match="groups: expected a positive divisor of n = 3"):
        solve_box_qp(p, q, totals=totals, lower=lower, upper=upper, groups=2)
    nan_q = q.clone()
    nan_q[1, 2] = float("nan")
    with pytest.raises(NonFiniteError, match="q: expected finite values") as err:
        solve_box_qp(p, nan_q, totals=totals, lower=lower, upper=upper)
    assert err.value.samples == [1]
