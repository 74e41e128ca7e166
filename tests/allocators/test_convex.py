import cvxpy as cp
import numpy as np
import pytest
import torch

from deepalloc.allocators import (
    ConvexAllocator,
    MarkowitzAllocator,
    MinVarianceAllocator,
    QPSettings,
    RiskBudgetingAllocator,
    SolverError,
)
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


def test_max_return_under_risk_limit_matches_the_exact_answer():
    mu, s, _, _ = mean_variance_problem(2, N, seed=2)
    w = ConvexAllocator(N, objective="max_return", risk_limit=0.06)(mu, s)
    vol = torch.linalg.norm(torch.einsum("bij,bj->bi", s, w), dim=-1)
    assert (vol <= 0.06 + 1e-7).all()
    assert torch.allclose(vol, torch.full_like(vol, 0.06), atol=1e-6)  # the limit binds
    # exact answer: the mean-variance optimum whose risk aversion puts it on the limit
    lo, hi = torch.full((2,), 1e-6, dtype=torch.float64), torch.full((2,), 1e6, dtype=torch.float64)
    qp = MarkowitzAllocator(N, settings=QPSettings(tol=1e-12))
    for _ in range(100):
        mid = (lo * hi).sqrt()
        over = torch.linalg.norm(torch.einsum("bij,bj->bi", s, qp(mu, s, mid, 0.0)), dim=-1) > 0.06
        lo, hi = torch.where(over, mid, lo), torch.where(over, hi, mid)
    # SCS at 1e-10 (the default): 1e-8 measured (benchmarks/bench_convex_accuracy.py)
    torch.testing.assert_close(w, qp(mu, s, (lo * hi).sqrt(), 0.0), atol=1e-7, rtol=0)


def test_min_variance_and_max_sharpe_match_exact_answers():
    mu, s, _, alpha = mean_variance_problem(3, N, seed=6)
    w = ConvexAllocator(N, objective="min_variance")(s, alpha)
    exact = MinVarianceAllocator(N, settings=QPSettings(tol=1e-12))(s, alpha)
    torch.testing.assert_close(w, exact, atol=1e-7, rtol=0)  # 1e-8 measured
    mu = mu.abs() + 0.01
    w = ConvexAllocator(N, objective="max_sharpe")(mu, s)
    for i in range(3):
        y = cp.Variable(N)
        cov = cp.psd_wrap((s[i].T @ s[i]).numpy())
        cp.Problem(cp.Minimize(cp.quad_form(y, cov)), [mu[i].numpy() @ y == 1, y >= 0]).solve(
            **TIGHT
        )
        np.testing.assert_allclose(w[i].numpy(), y.value / y.value.sum(), atol=1e-7)


def test_max_entropy_equals_closed_form_capped_softmax():
    z = torch.randn(3, N, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2
    w = ConvexAllocator(N, objective="max_entropy", max_weight=0.2)(z)
    # Clarabel's accuracy on the exponential cones of the entropy: 2e-7 measured
    torch.testing.assert_close(w, capped_softmax(z, 0.2), atol=1e-6, rtol=0)


def test_max_entropy_is_exact_where_weights_are_tiny():
    # scores spread so that optima hold weights of 1e-6 and below, where SCS (the former
    # default) returned exact zeros: weights off by 3e-5, gradients by up to 100%
    z = torch.randn(6, N, dtype=torch.float64, generator=torch.Generator().manual_seed(5)) * 4
    exact = torch.softmax(z, -1)
    assert exact.min() < 1e-5
    x = z.clone().requires_grad_(True)
    w = ConvexAllocator(N, objective="max_entropy")(x)
    torch.testing.assert_close(w.detach(), exact, atol=1e-6, rtol=0)  # 2e-7 measured
    c = torch.randn(6, N, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (w * c).sum().backward()
    x_exact = z.clone().requires_grad_(True)
    (torch.softmax(x_exact, -1) * c).sum().backward()
    error = (x.grad - x_exact.grad).norm(dim=-1) / x_exact.grad.norm(dim=-1)
    assert error.max() <= 1e-4  # 3e-7 measured


def test_max_entropy_with_a_sector_limit_matches_the_exact_answer():
    # with the limit binding, the optimum is a softmax inside and outside the sector,
    # scaled to the sector's limit and the rest of the budget
    z = torch.randn(3, N, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    z[:, :3] += 2.0
    w = ConvexAllocator(N, objective="max_entropy", groups=[([0, 1, 2], 0.3)])(z)
    exact = torch.cat([0.3 * torch.softmax(z[:, :3], -1), 0.7 * torch.softmax(z[:, 3:], -1)], 1)
    torch.testing.assert_close(w, exact, atol=1e-6, rtol=0)


def test_risk_budgeting_equals_newton_allocator():
    _, s, _, _ = mean_variance_problem(3, N, seed=4)
    x = s.clone().requires_grad_(True)
    w = ConvexAllocator(N, objective="risk_budgeting")(x)
    x_exact = s.clone().requires_grad_(True)
    exact = RiskBudgetingAllocator()(x_exact)
    torch.testing.assert_close(w.detach(), exact.detach(), atol=1e-7, rtol=0)  # 1e-9 measured
    c = torch.randn(3, N, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    (w * c).sum().backward()
    (exact * c).sum().backward()
    assert (x.grad - x_exact.grad).norm() <= 1e-4 * x_exact.grad.norm()


def test_builder():
    def build(w, p):
        return cp.Problem(cp.Minimize(cp.sum_squares(w - p["target"])), [cp.sum(w) == 1, w >= 0])

    layer = ConvexAllocator(N, builder=build, parameters={"target": (N,)})
    target = torch.randn(2, N, dtype=torch.float64)
    w = layer(target=target)
    from deepalloc.functional.simplex import sparsemax

    torch.testing.assert_close(w, sparsemax(target), atol=1e-6, rtol=0)
    assert layer.inputs == ("target",)


def test_infeasible_sample_raises_and_cannot_fall_back_to_weights_breaking_its_turnover():
    mu, s, gamma, alpha = mean_variance_problem(3, N, seed=5)
    previous = torch.full((3, N), 1.0 / N, dtype=torch.float64)
    previous[1] = 0.0  # from all cash, a turnover of 0.5 cannot reach a budget of 1
    layer = ConvexAllocator(N, turnover=0.5)
    with pytest.raises(SolverError, match=r"samples \[1\]") as err:
        layer(mu, s, gamma, alpha, previous_weights=previous)
    assert err.value.samples == [1]
    # equal weights are a turnover of 1 from cash: not an allowed fallback either
    fallback = ConvexAllocator(N, turnover=0.5, on_failure="equal_weight")
    with pytest.raises(SolverError, match=r"equal weights break a constraint of samples \[1\]"):
        fallback(mu.requires_grad_(True), s, gamma, alpha, previous_weights=previous)


@pytest.mark.filterwarnings("ignore:Solved/Inaccurate:UserWarning")
def test_failed_solves_fall_back_to_equal_weights_within_the_caps():
    mu, s, gamma, alpha = mean_variance_problem(3, N, seed=5)
    args = {"max_iters": 2}  # SCS stops far from a solution (diffcp only warns)
    with pytest.raises(SolverError, match=r"samples \[0, 1, 2\]"):
        ConvexAllocator(N, max_weight=0.3, solver_args=args)(mu, s, gamma, alpha)
    layer = ConvexAllocator(N, max_weight=0.3, solver_args=args, on_failure="equal_weight")
    with pytest.warns(RuntimeWarning, match=r"samples \[0, 1, 2\] failed"):
        w = layer(mu, s, gamma, alpha)
    torch.testing.assert_close(w, torch.full((3, N), 1.0 / N, dtype=torch.float64))


def test_clarabel_on_an_infeasible_problem_raises_instead_of_returning_weights():
    # diffcp's Clarabel returns a point (summing to about 0) without an error
    mu, s, gamma, alpha = mean_variance_problem(2, N, seed=5)
    previous = torch.zeros(2, N, dtype=torch.float64)
    previous[0] = 1.0 / N
    layer = ConvexAllocator(N, turnover=0.5, solver_args={"solve_method": "Clarabel"})
    with pytest.raises(SolverError, match=r"samples \[1\]"):
        layer(mu, s, gamma, alpha, previous_weights=previous)


def test_equal_weight_fallback_is_refused_where_equal_weights_break_a_cap():
    caps = [0.1, 0.1, 0.2, 0.2, 0.2, 0.2, 0.3, 0.3]  # 1/8 = 0.125 breaks the first two
    ConvexAllocator(N, upper=caps)  # raising on failure is fine
    with pytest.raises(ValueError, match="on_failure: 'equal_weight' breaks the constraint"):
        ConvexAllocator(N, upper=caps, on_failure="equal_weight")
    with pytest.raises(ValueError, match="on_failure: 'equal_weight' breaks the constraint"):
        ConvexAllocator(N, groups=[([0, 1, 2], 0.3)], on_failure="equal_weight")


def test_infeasible_cap_fails_at_construction():
    with pytest.raises(ValueError, match="max_weight x n_assets >= 1"):
        ConvexAllocator(5, max_weight=0.1)
    with pytest.raises(ValueError, match="budget: expected a value between the sums"):
        ConvexAllocator(5, upper=[0.1, 0.1, 0.1, 0.3, 0.3])
    with pytest.raises(ValueError, match="lower, upper: expected lower <= upper"):
        ConvexAllocator(5, lower=0.3, upper=0.2)


def test_wrong_shapes_are_named_before_any_solve():
    mu, s, gamma, alpha = mean_variance_problem(3, 4, seed=0)
    for on_failure in ("raise", "equal_weight"):
        layer = ConvexAllocator(5, on_failure=on_failure)
        with pytest.raises(ValueError, match=r"mu: expected shape \(batch, 5\), got \(3, 4\)"):
            layer(mu, s, gamma, alpha)
    mu5, s5, _, _ = mean_variance_problem(3, 5, seed=0)
    layer = ConvexAllocator(5)
    with pytest.raises(ValueError, match=r"cov_sqrt: expected shape \(batch, 5, 5\), got \(5, 5\)"):
        layer(mu5, s5[0], gamma, alpha)
    with pytest.raises(ValueError, match="expected the same batch size for every input"):
        layer(mu5, s5[:2], gamma, alpha)
    with pytest.raises(ValueError, match=r"gamma: expected shape \(batch\), got \(3, 1\)"):
        layer(mu5, s5, gamma[:, None], alpha)
    with pytest.raises(ValueError, match="gamma: expected non-negative values"):
        layer(mu5, s5, -gamma, alpha)


def test_errors_other_than_solver_failures_propagate():
    mu, s, gamma, alpha = mean_variance_problem(2, N, seed=0)
    layer = ConvexAllocator(N, on_failure="equal_weight")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug, not a failed solve")

    object.__setattr__(layer, "layer", broken)
    with pytest.raises(RuntimeError, match="a bug, not a failed solve"):
        layer(mu, s, gamma, alpha)


def test_config_errors():
    with pytest.raises(ValueError, match="risk_limit"):
        ConvexAllocator(N, objective="max_return")
    with pytest.raises(ValueError, match="risk_limit: expected None with objective"):
        ConvexAllocator(N, risk_limit=0.1)
    with pytest.raises(ValueError, match="budgets: expected None with objective"):
        ConvexAllocator(N, budgets=[1.0] * N)
    with pytest.raises(ValueError, match="objective: expected one of"):
        ConvexAllocator(N, objective="magic")
    with pytest.raises(ValueError, match="on_failure: expected one of"):
        ConvexAllocator(N, on_failure="skip")
    with pytest.raises(ValueError, match="groups: expected asset indices"):
        ConvexAllocator(N, groups=[([0, 99], 0.1)])
    with pytest.raises(TypeError, match="expected input 'mu'"):
        ConvexAllocator(N)(cov_sqrt=torch.eye(N)[None])
