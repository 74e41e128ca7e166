"""The batched QP solver's fast paths: NumPy and torch backends, the compact KKT
factorisation, the group projection, gradients in bounds and budgets, the thread scope
and compiled graphs. Each against an independent computation (dense NumPy solves,
bisection, finite differences, the eager layer)."""

import numpy as np
import pytest
import torch

import deepalloc.allocators.qp_solver as qp_solver
from deepalloc.allocators import MarkowitzAllocator, QPSettings, solve_box_qp
from deepalloc.allocators.qp_backend import NumpyOps, TorchOps
from deepalloc.allocators.qp_kkt import ReducedKKT
from deepalloc.allocators.qp_warm import GroupProjector
from tests.allocators.conftest import mean_variance_problem


def box_problem(batch: int, n: int, groups: int, seed: int):
    """Random SPD P, q, totals inside the bounds, bounds 0 <= x <= cap per group."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, n, n, generator=g, dtype=torch.float64) / n**0.5
    p = a @ a.transpose(1, 2) + 0.05 * torch.eye(n, dtype=torch.float64)
    q = torch.randn(batch, n, generator=g, dtype=torch.float64)
    m = n // groups
    lower = torch.zeros(batch, n, dtype=torch.float64)
    upper = torch.full((batch, n), 2.5 / m, dtype=torch.float64)
    totals = torch.rand(batch, groups, generator=g, dtype=torch.float64) * 1.5 + 0.5
    return p, q, totals, lower, upper


@pytest.mark.parametrize(("n", "groups"), [(6, 1), (30, 1), (12, 2), (40, 2)])
def test_numpy_and_torch_backends_give_the_same_solution(n, groups):
    p, q, totals, lower, upper = box_problem(16, n, groups, seed=n)
    settings = QPSettings(kernel="vectorised")  # the compiled kernel: test_qp_compiled.py
    fast = qp_solver._solve(p, q, totals, lower, upper, groups, settings)
    plain = qp_solver._solve(p, q, totals, lower, upper, groups, settings, allow_numpy=False)
    # the same algorithm in another order of rounding: agreement to rounding of the
    # solves (P is well conditioned here, eigenvalues >= 0.05)
    torch.testing.assert_close(fast.x, plain.x, atol=1e-12, rtol=0)
    assert torch.equal(fast.free, plain.free)
    assert fast.iterations == plain.iterations


def dense_kkt_solve(p, free, groups, rhs, budget):
    """Solve [P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget] densely, one sample at a time."""
    b, n = rhs.shape
    m = n // groups
    xs, nus = [], []
    for i in range(b):
        f = np.flatnonzero(free[i])
        a = np.zeros((groups, len(f)))
        for j, col in enumerate(f):
            a[col // m, j] = 1.0
        kkt = np.block([[p[i][np.ix_(f, f)], a.T], [a, np.zeros((groups, groups))]])
        sol = np.linalg.solve(kkt, np.concatenate([rhs[i][f], budget[i]]))
        x = np.zeros(n)
        x[f] = sol[: len(f)]
        xs.append(x)
        nus.append(sol[len(f) :])
    return np.array(xs), np.array(nus)


@pytest.mark.parametrize("ops", [NumpyOps, TorchOps], ids=["numpy", "torch"])
@pytest.mark.parametrize(("free_share", "groups"), [(0.2, 1), (0.8, 1), (0.25, 2), (0.9, 2)])
def test_reduced_kkt_solves_the_kkt_system(ops, free_share, groups):
    # a free share under one half takes the compact (gathered) layout, over it the full one
    n, b = 20, 8
    p, _, _, _, _ = box_problem(b, n, groups, seed=3)
    g = np.random.default_rng(4)
    free = g.random((b, n)) < free_share
    free.reshape(b, groups, -1)[:, :, 0] = True  # every group keeps a free coordinate
    rhs, budget = g.standard_normal((b, n)), g.standard_normal((b, groups))
    arr = (lambda a: a) if ops is NumpyOps else torch.from_numpy
    kkt, _ = ReducedKKT.factor(arr(p.numpy()), arr(free), groups)
    x, nu = kkt.solve(arr(rhs), arr(budget))
    x_ref, nu_ref = dense_kkt_solve(p.numpy(), free, groups, rhs, budget)
    # P has eigenvalues in [0.05, ~5]: the solves lose a few digits at most
    np.testing.assert_allclose(np.asarray(x), x_ref, atol=1e-11)
    np.testing.assert_allclose(np.asarray(nu), nu_ref, atol=1e-11)


def bisection_projection(z, total, lower, upper):
    """Projection onto {sum = total, lower <= x <= upper} by 200 bisection steps on tau."""
    lo, hi = (z - upper).min() - 1.0, (z - lower).max() + 1.0
    for _ in range(200):
        mid = (lo + hi) / 2
        if np.clip(z - mid, lower, upper).sum() > total:
            lo = mid
        else:
            hi = mid
    return np.clip(z - (lo + hi) / 2, lower, upper)


@pytest.mark.parametrize("ops", [NumpyOps, TorchOps], ids=["numpy", "torch"])
def test_group_projection_is_exact(ops):
    g = np.random.default_rng(0)
    b, n, groups = 12, 16, 2
    z = g.standard_normal((b, n)) * 2
    lower = g.uniform(-0.5, 0.0, (b, n))
    upper = lower + g.uniform(0.0, 0.6, (b, n))
    upper[:, 3] = lower[:, 3]  # a fixed coordinate: two equal breakpoints
    sums_lo, sums_hi = lower.reshape(b, groups, -1).sum(-1), upper.reshape(b, groups, -1).sum(-1)
    totals = sums_lo + g.uniform(0, 1, (b, groups)) * (sums_hi - sums_lo)
    totals[0, 0] = sums_lo[0, 0]  # both edges of feasibility
    totals[1, 1] = sums_hi[1, 1]
    arr = (lambda a: a) if ops is NumpyOps else torch.from_numpy
    x = np.asarray(GroupProjector(arr(totals), arr(lower), arr(upper), groups)(arr(z)))
    m = n // groups
    for i in range(b):
        for k in range(groups):
            part = slice(k * m, (k + 1) * m)
            ref = bisection_projection(z[i, part], totals[i, k], lower[i, part], upper[i, part])
            np.testing.assert_allclose(x[i, part], ref, atol=1e-12)


def test_box_qp_gradients_in_every_input_match_finite_differences():
    # one group, coordinates free and at both bounds, none near a switch (complementarity
    # margins far above the finite-difference steps), so the active set stays put
    n, b = 6, 2
    p, q, totals, lower, upper = box_problem(b, n, 1, seed=4)
    q = q * 2
    lower = lower - 0.1
    inputs = [t.clone().requires_grad_(True) for t in (p, q, totals, lower, upper)]

    def solve(p_, q_, totals_, lower_, upper_):
        sym = (p_ + p_.transpose(1, 2)) / 2  # perturbations of P stay symmetric
        return solve_box_qp(sym, q_, totals=totals_, lower=lower_, upper=upper_)

    x = solve(*inputs)
    free = ((x > lower + 1e-6) & (x < upper - 1e-6)).sum(-1)
    at_lower, at_upper = (x <= lower + 1e-12).sum(-1), (x >= upper - 1e-12).sum(-1)
    assert (free >= 2).all() and (at_lower >= 1).all() and (at_upper >= 1).all()
    assert torch.autograd.gradcheck(solve, tuple(inputs), eps=1e-6, atol=1e-6)


def test_small_problems_run_on_one_thread_and_restore_the_setting(monkeypatch):
    seen = []
    real = qp_solver._solve

    def spy(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return real(*args, **kwargs)

    monkeypatch.setattr(qp_solver, "_solve", spy)
    mu, s, gamma, alpha = mean_variance_problem(4, 5, seed=0)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        MarkowitzAllocator(5)(mu, s, gamma, alpha)
        assert seen[-1] == 1 and torch.get_num_threads() == 2
        MarkowitzAllocator(5, settings=QPSettings(threads=2))(mu, s, gamma, alpha)
        assert seen[-1] == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="threads: expected None or a positive integer"):
        QPSettings(threads=0)


class _Net(torch.nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.linear = torch.nn.Linear(n, n, dtype=torch.float64)
        self.long_only = MarkowitzAllocator(n, max_weight=0.4)
        self.gross = MarkowitzAllocator(n, max_weight=0.6, allow_short=True, gross_leverage=1.2)

    def forward(self, mu, s):
        view = self.linear(mu)
        return self.long_only(view, s, 1.0, 0.01) + self.gross(view * 10, s, 1.0, 0.01)


def test_a_compiled_network_has_no_graph_break_and_matches_eager():
    n = 5
    mu, s, _, _ = mean_variance_problem(4, n, seed=2)
    torch.manual_seed(0)  # test-only: the linear layer's initial parameters
    net = _Net(n)
    explained = torch._dynamo.explain(net)(mu, s)
    assert explained.graph_break_count == 0, [r.reason for r in explained.break_reasons]
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    grads = []
    for model in (net, compiled):
        net.zero_grad()
        w = model(mu, s)
        (w * torch.arange(n, dtype=torch.float64)).sum().backward()
        grads.append((w.detach(), [p.grad.clone() for p in net.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-12, rtol=0)
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)
