import cvxpy as cp
import numpy as np
import pytest
import torch

from deepalloc.allocators import ConvexAllocator, RiskBudgetingAllocator, SolverError
from deepalloc.functional.simplex import capped_softmax
from tests.allocators.conftest import (
    TIGHT,
    assert_matches_clarabel,
    cvxpy_mean_variance,
    mean_variance_problem,
)

N = 8


def test_mean_variance_matches_clarabel_and_returns_input_dtype():
    mu, s, gamma, alpha = mean_variance_problem(4, N, seed=0)
    layer = ConvexAllocator(N, max_weight=0.2)
    w = layer(mu.float(), s.float(), gamma.float(), alpha.float())
    assert w.dtype == torch.float32
    w64 = layer(mu, s, gamma, alpha)
    for i in range(4):
        ref = cvxpy_mean_variance(
            mu[i].numpy(), s[i].numpy(), gamma[i].item(), alpha[i].item(), upper=0.2
        )
        np.testing.assert_allclose(w64[i].numpy(), ref, atol=1e-6)


@pytest.mark.parametrize(("n", "cap"), [(5, 0.35), (40, 0.05), (100, 0.02)])
def test_mean_variance_matches_clarabel_from_5_to_100_assets(n, cap):
    mu, s, gamma, alpha = mean_variance_problem(2, n, seed=n)
    mu = mu * 4
    w = ConvexAllocator(n, max_weight=cap)(mu, s, gamma, alpha)
    binding = assert_matches_clarabel(w, mu, s, gamma, alpha, cap)
    assert binding > 0


def test_solve_method_is_selectable():
    mu, s, gamma, alpha = mean_variance_problem(2, N, seed=7)
    clarabel = ConvexAllocator(N, max_weight=0.2, solver_args={"solve_method": "Clarabel"})
    assert clarabel.solver_args["solve_method"] == "Clarabel"
    w = clarabel(mu, s, gamma, alpha)
    assert_matches_clarabel_loose = np.abs(
        w.numpy() - ConvexAllocator(N, max_weight=0.2)(mu, s, gamma, alpha).numpy()
    ).max()
    assert assert_matches_clarabel_loose < 1e-4  # diffcp's Clarabel stalls near 1e-5


def test_sector_limits_turnover_and_leverage_are_respected():
    mu, s, gamma, alpha = mean_variance_problem(3, N, seed=1)
    mu = mu * 20
    sectors = [([0, 1, 2], 0.3), ([3, 4], 0.25)]
    layer = ConvexAllocator(
        N, long_only=False, lower=-0.4, upper=0.4, gross_leverage=1.6, groups=sectors
    )
    w = layer(mu, s, gamma, alpha)
    for idx, z in sectors:
        exposure = w[:, idx].sum(-1)
        assert (exposure.abs() <= z + 1e-7).all()
    assert (w.abs().sum(-1) <= 1.6 + 1e-7).all()
    assert (w < -1e-4).any()  # shorts are used
    # reference for the first sample
    wv = cp.Variable(N)
    cons = [cp.sum(wv) == 1, wv >= -0.4, wv <= 0.4, cp.norm1(wv) <= 1.6]
    cons += [cp.abs(cp.sum(wv[idx])) <= z for idx, z in sectors]
    obj = (
        mu[0].numpy() @ wv
        - gamma[0].item() * cp.sum_squares(s[0].numpy() @ wv)
        - 0.01 * cp.sum_squares(wv)
    )
    cp.Problem(cp.Maximize(obj), cons).solve(**TIGHT)
    np.testing.assert_allclose(w[0].numpy(), wv.value, atol=1e-6)

    previous = torch.full((3, N), 1.0 / N, dtype=torch.float64)
    turn = ConvexAllocator(N, turnover=0.2)(mu, s, gamma, alpha, previous_weights=previous)
    assert ((turn - previous).abs().sum(-1) <= 0.2 + 1e-7).all()


def test_max_return_under_risk_limit():
    mu, s, _, _ = mean_variance_problem(2, N, seed=2)
    w = ConvexAllocator(N, objective="max_return", risk_limit=0.06)(mu, s)
    vol = torch.linalg.norm(torch.einsum("bij,bj->bi", s, w), dim=-1)
    assert (vol <= 0.06 + 1e-7).all()
    assert torch.allclose(vol, torch.full_like(vol, 0.06), atol=1e-6)  # the limit binds


def test_max_entropy_equals_closed_form_capped_softmax():
    z = torch.randn(3, N, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2
    w = ConvexAllocator(N, objective="max_entropy", max_weight=0.2)(z)
    torch.testing.assert_close(w, capped_softmax(z, 0.2), atol=1e-6, rtol=0)


def test_risk_budgeting_equals_newton_allocator():
    _, s, _, _ = mean_variance_problem(3, N, seed=4)
    w = ConvexAllocator(N, objective="risk_budgeting")(s)
    torch.testing.assert_close(w, RiskBudgetingAllocator()(s), atol=1e-6, rtol=0)


def test_builder():
    def build(w, p):
        return cp.Problem(cp.Minimize(cp.sum_squares(w - p["target"])), [cp.sum(w) == 1, w >= 0])

    layer = ConvexAllocator(N, builder=build, parameters={"target": (N,)})
    target = torch.randn(2, N, dtype=torch.float64)
    w = layer(target=target)
    from deepalloc.functional.simplex import sparsemax

    torch.testing.assert_close(w, sparsemax(target), atol=1e-6, rtol=0)
    assert layer.inputs == ("target",)


def test_infeasible_raises_naming_samples_or_falls_back():
    mu, s, gamma, alpha = mean_variance_problem(3, N, seed=5)
    previous = torch.full((3, N), 1.0 / N, dtype=torch.float64)
    previous[1] = 0.0  # from all cash, a turnover of 0.5 cannot reach a budget of 1
    layer = ConvexAllocator(N, turnover=0.5)
    with pytest.raises(SolverError, match=r"samples \[1\]") as err:
        layer(mu, s, gamma, alpha, previous_weights=previous)
    assert err.value.samples == [1]
    fallback = ConvexAllocator(N, turnover=0.5, on_failure="equal_weight")
    with pytest.warns(RuntimeWarning, match=r"samples \[1\] failed"):
        w = fallback(mu, s, gamma, alpha, previous_weights=previous)
    torch.testing.assert_close(w[1], torch.full((N,), 1.0 / N, dtype=torch.float64))
    assert torch.isfinite(w).all()


def test_config_errors():
    with pytest.raises(ValueError, match="risk_limit"):
        ConvexAllocator(N, objective="max_return")
    with pytest.raises(ValueError, match="objective: expected one of"):
        ConvexAllocator(N, objective="magic")
    with pytest.raises(ValueError, match="groups: expected asset indices"):
        ConvexAllocator(N, groups=[([0, 99], 0.1)])
    with pytest.raises(TypeError, match="expected input 'mu'"):
        ConvexAllocator(N)(cov_sqrt=torch.eye(N)[None])
