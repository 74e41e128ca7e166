"""Risk budgeting: convergence on real and on hard covariances, implicit gradients."""

import pytest
import torch

from deepalloc.allocators import RiskBudgetingAllocator
from deepalloc.allocators.risk_budgeting import solve_risk_budgeting
from deepalloc.errors import NonFiniteError, SolverError
from deepalloc.functional.measures import risk_contributions
from deepalloc.functional.risk import covariance, matrix_sqrt
from tests.allocators.conftest import mean_variance_problem, sp500_month_end_windows


@pytest.fixture(scope="module")
def sp500_covariances():
    windows, dates = sp500_month_end_windows()
    return covariance(windows, ddof=1), dates


@pytest.mark.parametrize("budgets", ["equal", "unequal"])
def test_every_month_end_sp500_window_converges_to_its_budgets(sp500_covariances, budgets):
    # 384 month-end one-year windows, 1991-2022; the former line-searched Newton method
    # stalled on 11 of them (2014-08-29, 2014-12-31, 2015-07-31, 2020-02-28, ...)
    cov, dates = sp500_covariances
    assert len(dates) == 384
    n = cov.shape[-1]
    target = None if budgets == "equal" else torch.linspace(1, 5, n, dtype=torch.float64)
    w = RiskBudgetingAllocator(target)(torch.linalg.cholesky(cov).transpose(1, 2))
    expected = torch.full((n,), 1 / n) if target is None else target / target.sum()
    assert (w > 0).all()
    assert (risk_contributions(w, cov) - expected.to(cov)).abs().max() <= 1e-6


@pytest.mark.parametrize("n", [5, 40])
def test_converges_on_ill_conditioned_covariances_with_spread_budgets(n):
    # condition numbers up to 1e8 and budgets over three decades: the damped Newton
    # method converges from any start on a positive definite covariance
    g = torch.Generator().manual_seed(n)
    q, _ = torch.linalg.qr(torch.randn(32, n, n, generator=g, dtype=torch.float64))
    eigenvalues = 10 ** (-8 * torch.rand(32, n, generator=g, dtype=torch.float64))
    cov = q @ torch.diag_embed(eigenvalues) @ q.transpose(1, 2)
    cov = (cov + cov.transpose(1, 2)) / 2
    b = 10 ** (-3 * torch.rand(32, n, generator=g, dtype=torch.float64))
    b = b / b.sum(-1, keepdim=True)
    y = solve_risk_budgeting(cov, b)
    contributions = y * (cov @ y[..., None])[..., 0]
    # y_i (C y)_i = b_i up to the rounding of (C y)_i: n eps cond(C) relative at worst
    bound = 8 * n * torch.finfo(torch.float64).eps * 1e8
    assert ((contributions - b).abs() / b).max() <= bound


def test_implicit_gradients_match_finite_differences_on_a_real_window(sp500_covariances):
    cov, _ = sp500_covariances
    s = matrix_sqrt(cov[-1:, :6, :6] * 1e4).clone().requires_grad_(True)  # daily % units
    alloc = RiskBudgetingAllocator(torch.tensor([1.0, 2, 3, 1, 2, 3], dtype=torch.float64))
    assert torch.autograd.gradcheck(alloc, (s,), eps=1e-6, atol=1e-6, rtol=1e-4)


def test_singular_covariance_is_reported():
    # a covariance with a null direction of positive weights has no risk-budgeting solution
    s = torch.tensor([[[1.0, -1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    with pytest.raises(SolverError, match="positive definite") as err:
        RiskBudgetingAllocator()(s)
    assert err.value.samples == [0]


def test_non_finite_covariance_root_is_named():
    _, s, _, _ = mean_variance_problem(3, 4, seed=0)
    s[2, 1, 3] = float("nan")
    with pytest.raises(NonFiniteError, match="cov_sqrt: expected finite values") as err:
        RiskBudgetingAllocator()(s)
    assert err.value.argument == "cov_sqrt" and err.value.samples == [2]


def test_options_are_validated():
    with pytest.raises(ValueError, match="budgets: expected a 1-d tensor of positive"):
        RiskBudgetingAllocator(torch.tensor([1.0, float("nan")]))
    with pytest.raises(ValueError, match="max_iter: expected a positive integer"):
        RiskBudgetingAllocator(max_iter=0)
    with pytest.raises(ValueError, match="tol: expected a positive number"):
        RiskBudgetingAllocator(tol=-1.0)
