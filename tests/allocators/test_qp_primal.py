import cvxpy as cp
import numpy as np
import pytest
import torch

import deepalloc.allocators.qp as qp
from deepalloc.allocators import MarkowitzAllocator
from deepalloc.allocators.qp_kkt import BoxQP
from deepalloc.allocators.qp_primal import primal_active_set
from deepalloc.errors import SolverError
from deepalloc.functional.simplex import project_box_simplex


def ill_conditioned(batch: int, n: int, seed: int):
    """Low-rank risk, risk aversion over four decades, L2 penalties down to 1e-8."""
    g = torch.Generator().manual_seed(seed)
    rank = torch.randint(1, n + 1, (batch,), generator=g)
    s = torch.randn(batch, n, n, generator=g, dtype=torch.float64) / n**0.5
    s = s * (torch.arange(n)[None, :, None] < rank[:, None, None])
    mu = torch.randn(batch, n, generator=g, dtype=torch.float64) * 0.05
    gamma = 10 ** (4 * torch.rand(batch, generator=g, dtype=torch.float64) - 2)
    alpha = 10 ** (-8 + 6 * torch.rand(batch, generator=g, dtype=torch.float64))
    return mu, s, gamma, alpha


# Clarabel's gap and feasibility tolerances in the references below: a true optimum is
# never worse than Clarabel's objective by more than this (relative to 1 + |objective|)
CLARABEL_TOL = 1e-10


def budget_rounding(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Bound on the rounding error of a budget sum of an active-set solution, (batch,).

    Each working-set solve forms ``x = z - y nu`` with ``z = P_FF^-1 q_F``, whose entries
    reach ``|q| / lambda_min(P)`` before cancelling, so the budget sum of ``x`` carries a
    rounding error of about ``n eps |q| / lambda_min(P)`` (about 1e-10 for the worst
    sample here, lambda_min ~ 5e-7: the bound moves with the platform's float kernels,
    the error stays under it); a factor 4 covers the few sums and solves involved.
    """
    n = q.shape[-1]
    lam_min = torch.linalg.eigvalsh(p)[:, 0].clamp_min(torch.finfo(p.dtype).tiny)
    return 4 * n * torch.finfo(p.dtype).eps * (1 + q.abs().amax(-1) / lam_min)


def clarabel_box_qp(p, q, totals, lower, upper, groups):
    """min 1/2 x'Px - q'x, group budgets and bounds, by Clarabel; (x, objective)."""
    n = len(q)
    x = cp.Variable(n)
    m = n // groups
    cons = [cp.sum(x[k * m : (k + 1) * m]) == totals[k] for k in range(groups)]
    cons += [x >= lower, x <= upper]
    objective = 0.5 * cp.quad_form(x, cp.psd_wrap(p)) - q @ x
    cp.Problem(cp.Minimize(objective), cons).solve(
        solver=cp.CLARABEL,
        tol_gap_abs=CLARABEL_TOL,
        tol_gap_rel=CLARABEL_TOL,
        tol_feas=CLARABEL_TOL,
    )
    return np.asarray(x.value), 0.5 * x.value @ p @ x.value - q @ x.value


@pytest.mark.parametrize("groups", [1, 2])
def test_primal_active_set_reaches_the_optimum_from_a_feasible_point(groups):
    batch, n = 24, 12
    mu, s, gamma, alpha = ill_conditioned(batch, n, seed=groups)
    p = 2 * (gamma[:, None, None] * s.transpose(1, 2) @ s + alpha[:, None, None] * torch.eye(n))
    q = mu * 4
    totals = torch.tensor([[0.7, 0.3][:groups] if groups == 2 else [1.0]] * batch).double()
    lower = torch.zeros(batch, n, dtype=torch.float64)
    upper = torch.full((batch, n), 0.25, dtype=torch.float64)
    start = torch.cat(
        [
            project_box_simplex(part, totals[:, k], 0.0, 0.25)
            for k, part in enumerate(q.chunk(groups, dim=1))
        ],
        dim=1,
    )
    problem = BoxQP(p, q, totals, lower, upper, groups)
    x, free, done, iterations = primal_active_set(problem, start, max_iter=500, tol=1e-9)
    assert done.all() and iterations > 1
    assert (x >= 0).all() and (x <= 0.25).all()
    sums = x.reshape(batch, groups, -1).sum(-1)
    assert ((sums - totals).abs().amax(-1) <= budget_rounding(p, q)).all()
    for i in range(batch):
        ref, best = clarabel_box_qp(
            p[i].numpy(), q[i].numpy(), totals[i].numpy(), 0.0, 0.25, groups
        )
        ours = float(0.5 * x[i] @ p[i] @ x[i] - q[i] @ x[i])
        # at least as good as Clarabel's, up to Clarabel's own duality-gap tolerance
        assert ours <= best + CLARABEL_TOL * (1 + abs(best))
        np.testing.assert_allclose(x[i].numpy(), ref, atol=1e-4)
    assert free.reshape(batch, groups, -1).any(-1).all()  # every budget keeps a free coordinate


def test_markowitz_finishes_cycling_problems_with_the_fallback():
    n, cap = 10, 0.5
    mu, s, gamma, alpha = ill_conditioned(256, n, seed=11)
    # the primal-dual iterations alone do not finish these problems: with no iteration
    # left for the fallback, the solver reports them unconverged
    pdas_only = qp.QPSettings(max_iter=qp.QPSettings().fallback_after)
    with pytest.raises(SolverError, match="unconverged samples") as err:
        MarkowitzAllocator(n, max_weight=cap, settings=pdas_only)(mu, s, gamma, alpha)
    assert err.value.samples
    # with the default settings the fallback finishes them, at the optimum
    w = MarkowitzAllocator(n, max_weight=cap)(mu, s, gamma, alpha)
    rows = w.detach().numpy()
    for i in [*err.value.samples[:16], *range(0, 256, 32)]:
        x = cp.Variable(n)
        utility = (
            mu[i].numpy() @ x
            - gamma[i].item() * cp.sum_squares(s[i].numpy() @ x)
            - alpha[i].item() * cp.sum_squares(x)
        )
        problem = cp.Problem(cp.Maximize(utility), [cp.sum(x) == 1, x >= 0, x <= cap])
        best = problem.solve(
            solver=cp.CLARABEL,
            tol_gap_abs=CLARABEL_TOL,
            tol_gap_rel=CLARABEL_TOL,
            tol_feas=CLARABEL_TOL,
        )
        ours = (
            mu[i].numpy() @ rows[i]
            - gamma[i].item() * np.sum((s[i].numpy() @ rows[i]) ** 2)
            - alpha[i].item() * np.sum(rows[i] ** 2)
        )
        assert ours >= best - CLARABEL_TOL * (1 + abs(best))  # see CLARABEL_TOL


def test_gradients_through_the_fallback_match_finite_differences():
    n = 10
    mu, s, gamma, alpha = ill_conditioned(256, n, seed=11)
    settings = qp.QPSettings(fallback_after=1)  # every sample finishes in the fallback
    i = 3
    mu_i = mu[i : i + 1].clone().requires_grad_(True)

    def weights(m):
        return MarkowitzAllocator(n, max_weight=0.5, settings=settings)(
            m, s[i : i + 1], gamma[i : i + 1], alpha[i : i + 1]
        )

    assert torch.autograd.gradcheck(weights, (mu_i,), eps=1e-7, atol=1e-5)


def test_settings_are_validated():
    with pytest.raises(ValueError, match="max_iter: expected a positive integer, got 0"):
        qp.QPSettings(max_iter=0)
    with pytest.raises(ValueError, match="tol: expected a positive number"):
        qp.QPSettings(tol=0.0)
