"""The compiled (numba) forward pass of the batched QP solver: against Clarabel, against
the vectorised solver, through each of its stages (active-set steps alone, with the
warm start, finished by the primal fallback), its errors and its settings."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import deepalloc.allocators.qp_solver as qp_solver
from deepalloc.allocators import (
    MarkowitzAllocator,
    QPSettings,
    SolverError,
    qp_compiled,
    solve_box_qp,
)
from tests.allocators.conftest import TIGHT, mean_variance_problem

pytest.importorskip("numba")

COMPILED = QPSettings(kernel="compiled")
VECTORISED = QPSettings(kernel="vectorised")


def box_problem(batch: int, n: int, seed: int, *, cap: float, rank: int | None = None):
    """Random PSD ``P = A A' + ridge I`` (rank-deficient ``A`` when ``rank``), q, budget 1."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, n, rank or n, generator=g, dtype=torch.float64) / n**0.5
    p = a @ a.transpose(1, 2) + 1e-3 * torch.eye(n, dtype=torch.float64)
    q = torch.randn(batch, n, generator=g, dtype=torch.float64) * 0.3
    lower = torch.zeros(batch, n, dtype=torch.float64)
    upper = torch.full((batch, n), cap, dtype=torch.float64)
    totals = torch.ones(batch, 1, dtype=torch.float64)
    return p, q, totals, lower, upper


def clarabel(p, q, lower, upper, total) -> np.ndarray:
    """One sample by Clarabel at tight tolerance."""
    x = cp.Variable(len(q))
    objective = cp.Minimize(0.5 * cp.quad_form(x, cp.psd_wrap(p)) - q @ x)
    cp.Problem(objective, [cp.sum(x) == total, x >= lower, x <= upper]).solve(**TIGHT)
    return np.asarray(x.value)


def kkt_violation(p, q, x, lower, upper, total) -> float:
    """Largest violation of the KKT conditions of one sample, computed in NumPy: the
    budget, the bounds, and a budget multiplier ``nu`` with ``grad + nu`` zero inside
    the bounds, >= 0 at the lower and <= 0 at the upper ones (``grad = P x - q``)."""
    minus_grad = q - p @ x
    inside = (x > lower + 1e-9) & (x < upper - 1e-9)
    nu_low = np.max(minus_grad[x <= lower + 1e-9], initial=-np.inf)  # nu >= these
    nu_high = np.min(minus_grad[x >= upper - 1e-9], initial=np.inf)  # nu <= these
    worst = max(abs(x.sum() - total), np.max(lower - x), np.max(x - upper))
    if not inside.any():
        return max(worst, nu_low - nu_high)
    nu = minus_grad[inside].mean()
    worst = max(worst, np.max(np.abs(minus_grad[inside] - nu)))
    return max(worst, nu_low - nu, nu - nu_high)


@pytest.mark.parametrize(
    ("n", "cap", "rank"), [(5, 0.3, None), (12, 0.15, None), (40, 0.05, 6), (40, 1.0, None)]
)
def test_compiled_solutions_equal_clarabel(n, cap, rank):
    p, q, totals, lower, upper = box_problem(12, n, seed=n, cap=cap, rank=rank)
    sol = qp_solver._solve(p, q, totals, lower, upper, 1, COMPILED)
    for i in range(len(q)):
        ref = clarabel(p[i].numpy(), q[i].numpy(), lower[i].numpy(), upper[i].numpy(), 1.0)
        # Clarabel at 1e-12 on problems with eigenvalues >= 1e-3: within 1e-7
        np.testing.assert_allclose(sol.x[i].numpy(), ref, atol=1e-7)
    inside = (sol.x > 1e-12) & (sol.x < cap - 1e-12)
    assert not (inside & ~sol.free).any()  # every coordinate inside its bounds is free


@pytest.mark.parametrize(
    "overrides",
    [{}, {"warm_steps": 10}, {"fallback_after": 1}, {"warm_steps": 3, "fallback_after": 2}],
    ids=["active-set", "warm-start", "primal-fallback", "mixed"],
)
def test_every_stage_reaches_the_vectorised_solution(overrides):
    p, q, totals, lower, upper = box_problem(32, 25, seed=7, cap=0.12, rank=8)
    compiled = qp_solver._solve(p, q, totals, lower, upper, 1, QPSettings(**overrides))
    vectorised = qp_solver._solve(
        p, q, totals, lower, upper, 1, QPSettings(kernel="vectorised", **overrides)
    )
    # the same active set, so the same linear solve up to rounding (ridge 1e-3, n = 25:
    # a condition number near 1e4 times machine epsilon)
    torch.testing.assert_close(compiled.x, vectorised.x, atol=1e-11, rtol=0)
    assert torch.equal(compiled.free, vectorised.free)
    assert compiled.kkt is None  # the backward pass factorises the final set


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    cap_share=st.floats(1.0, 4.0),
    seed=st.integers(0, 10_000),
    fallback=st.sampled_from([1, 8]),
)
def test_compiled_solutions_satisfy_the_kkt_conditions(n, cap_share, seed, fallback):
    # cap from 1/n (every weight at the cap) up to 4/n
    p, q, totals, lower, upper = box_problem(4, n, seed, cap=min(1.0, cap_share / n))
    sol = qp_solver._solve(p, q, totals, lower, upper, 1, QPSettings(fallback_after=fallback))
    for i in range(4):
        args = (p[i].numpy(), q[i].numpy(), sol.x[i].numpy(), 0.0, upper[i, 0].item(), 1.0)
        assert kkt_violation(*args) < 1e-8


def test_float32_inputs_solve_in_float64_and_return_float32():
    p, q, totals, lower, upper = box_problem(8, 15, seed=2, cap=0.2)
    sol64 = qp_solver._solve(p, q, totals, lower, upper, 1, COMPILED)
    f32 = [t.float() for t in (p, q, totals, lower, upper)]
    sol32 = qp_solver._solve(*f32, 1, COMPILED)
    assert sol32.x.dtype == torch.float32
    # the inputs' rounding to float32 (relative 6e-8) moves the solution by about the
    # condition number (below 1e3 here) times that
    torch.testing.assert_close(sol32.x.double(), sol64.x, atol=1e-4, rtol=0)


def test_the_layer_is_differentiable_through_the_compiled_forward():
    mu, s, gamma, alpha = mean_variance_problem(3, 6, seed=1)
    layer = MarkowitzAllocator(6, max_weight=0.35, settings=COMPILED)
    mu.requires_grad_(True)
    s.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda m, r: layer(m, r, gamma, alpha), (mu, s))


def test_unconverged_and_singular_samples_raise_naming_them():
    p, q, totals, lower, upper = box_problem(4, 20, seed=3, cap=0.1, rank=3)
    with pytest.raises(SolverError, match="converge within 1 iterations") as caught:
        qp_solver._solve(p, q, totals, lower, upper, 1, QPSettings(max_iter=1))
    assert caught.value.samples
    # a zero matrix: singular on any free set larger than one coordinate
    zero = torch.zeros_like(p)
    with pytest.raises(SolverError, match="singular system for samples") as caught:
        qp_solver._solve(zero, q, totals, lower, upper, 1, COMPILED)
    assert caught.value.samples == [0, 1, 2, 3]


def test_kernel_setting_is_checked_and_survives_the_operator_encoding(monkeypatch):
    with pytest.raises(ValueError, match="kernel: expected one of"):
        QPSettings(kernel="fast")
    for s in (QPSettings(), COMPILED, QPSettings(kernel="vectorised", warm_steps=3)):
        assert QPSettings.from_args(s.as_args()) == s
    assert QPSettings().fista_steps(compiled=True) == 0
    assert QPSettings().fista_steps(compiled=False) == 10
    monkeypatch.setattr(qp_compiled, "available", lambda: False)
    with pytest.raises(ImportError, match=r"deepalloc\[fast\]"):
        QPSettings(kernel="compiled")
    # "auto" without numba runs vectorised
    p, q, totals, lower, upper = box_problem(2, 6, seed=4, cap=0.4)
    assert qp_solver._solve(p, q, totals, lower, upper, 1, QPSettings()).kkt is not None


@pytest.mark.parametrize("kinked", [False, True])
def test_compiled_budget_groups_equal_clarabel_and_the_vectorised_pass(kinked):
    # two contiguous groups with their own budgets (the long-short layer's problem)
    n, b, groups = 10, 8, 2
    p, q, _, lower, upper = box_problem(b, n, seed=13, cap=0.5)
    g = torch.Generator().manual_seed(14)
    totals = 0.5 + 1.5 * torch.rand(b, groups, generator=g, dtype=torch.float64)
    kink = 0.5 * torch.rand(b, n, generator=g, dtype=torch.float64) if kinked else None
    kappa = 0.1 * torch.rand(b, n, generator=g, dtype=torch.float64) if kinked else None
    sol = qp_solver._solve(p, q, totals, lower, upper, groups, COMPILED, kink=kink, kappa=kappa)
    vec = qp_solver._solve(p, q, totals, lower, upper, groups, VECTORISED, kink=kink, kappa=kappa)
    assert sol.kkt is None  # solved by the kernel
    torch.testing.assert_close(sol.x, vec.x, atol=1e-11, rtol=0)
    for i in range(b):
        x = cp.Variable(n)
        cost = 0.5 * cp.quad_form(x, cp.psd_wrap(p[i].numpy())) - q[i].numpy() @ x
        if kinked:
            cost = cost + kappa[i].numpy() @ cp.abs(x - kink[i].numpy())
        budgets = [cp.sum(x[k * 5 : (k + 1) * 5]) == totals[i, k].item() for k in range(groups)]
        cp.Problem(cp.Minimize(cost), [*budgets, x >= 0, x <= 0.5]).solve(**TIGHT)
        np.testing.assert_allclose(sol.x[i].numpy(), x.value, atol=1e-7)  # Clarabel at 1e-12


def test_compiled_budget_groups_are_differentiable():
    # the backward pass solves the two-group KKT system per sample (CompiledKKT)
    p, q, _, lower, upper = box_problem(3, 6, seed=15, cap=0.6)
    totals = torch.tensor([[1.0, 0.8]] * 3, dtype=torch.float64)
    q.requires_grad_(True)
    totals.requires_grad_(True)

    def solve(q_, totals_):
        return solve_box_qp(
            p, q_, totals=totals_, lower=lower, upper=upper, groups=2, settings=COMPILED
        )

    assert torch.autograd.gradcheck(solve, (q, totals))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_kkt_solves_the_reduced_system(dtype):
    # the backward pass's solve, against dense NumPy solves of [P_FF 1; 1' 0]
    n, b = 15, 6
    p, _, _, _, _ = box_problem(b, n, seed=9, cap=1.0)
    g = np.random.default_rng(1)
    free = g.random((b, n)) < 0.4
    free[:, 0] = True
    rhs, budget = g.standard_normal((b, n)), g.standard_normal((b, 1))
    kkt = qp_compiled.CompiledKKT(p.to(dtype), torch.from_numpy(free))
    x, nu = kkt.solve(torch.from_numpy(rhs).to(dtype), torch.from_numpy(budget).to(dtype))
    assert x.dtype == dtype and nu.shape == (b, 1)
    for i in range(b):
        f = np.flatnonzero(free[i])
        k = len(f)
        system = np.block([[p[i].numpy()[np.ix_(f, f)], np.ones((k, 1))], [np.ones((1, k)), 0]])
        sol = np.linalg.solve(system, np.concatenate([rhs[i][f], budget[i]]))
        expected = np.zeros(n)
        expected[f] = sol[:k]
        # P's eigenvalues lie in [1e-3, ~4]; float32 input rounding moves the solution by
        # that condition number times 6e-8
        atol = 1e-9 if dtype == torch.float64 else 1e-3
        np.testing.assert_allclose(x[i].double().numpy(), expected, atol=atol)
        np.testing.assert_allclose(nu[i, 0].item(), sol[k], atol=atol)


def test_compiled_kkt_names_singular_samples():
    p = torch.zeros(3, 4, 4, dtype=torch.float64)
    p[1] = torch.eye(4, dtype=torch.float64)
    free = torch.ones(3, 4, dtype=torch.bool)
    kkt = qp_compiled.CompiledKKT(p, free)
    with pytest.raises(SolverError, match=r"singular system for samples \[0, 2\]"):
        kkt.solve(torch.ones(3, 4, dtype=torch.float64), torch.ones(3, 1, dtype=torch.float64))


def test_compiled_and_vectorised_gradients_agree():
    mu, s, gamma, alpha = mean_variance_problem(16, 12, seed=3)
    grads = []
    for settings_ in (COMPILED, VECTORISED):
        m, r = mu.clone().requires_grad_(True), s.clone().requires_grad_(True)
        w = MarkowitzAllocator(12, max_weight=0.2, settings=settings_)(m, r, gamma, alpha)
        (w * torch.arange(12.0, dtype=w.dtype)).sum().backward()
        grads.append((m.grad, r.grad))
    # the same active sets and linear systems, solved in another order of rounding
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-10, rtol=0)
    torch.testing.assert_close(grads[0][1], grads[1][1], atol=1e-10, rtol=0)


def bisection_projection(z, lo, up, kink, width, total):
    """``clip(kink + soft(z - tau - kink, width), lo, up)`` with the sum at ``total``,
    ``tau`` found by 200 bisection steps on the non-increasing sum."""

    def moved(tau):
        d = z - tau - kink
        return np.clip(kink + np.maximum(d - width, 0) + np.minimum(d + width, 0), lo, up)

    a, b = (z - up - width).min() - 1, (z - lo + width).max() + 1
    for _ in range(200):
        mid = (a + b) / 2
        a, b = (mid, b) if moved(mid).sum() >= total else (a, mid)
    return moved((a + b) / 2)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 10_000), kinked=st.booleans())
def test_compiled_projection_equals_a_bisection(n, seed, kinked):
    from deepalloc.allocators import qp_kernels

    g = np.random.default_rng(seed)
    lo = g.uniform(-0.2, 0.1, n)
    up = lo + g.uniform(0.0, 0.5, n)
    kink = lo + g.uniform(0, 1, n) * (up - lo)
    at_bound = g.random(n) < 0.3
    kink[at_bound] = up[at_bound]  # kinks at a bound
    width = g.uniform(0, 0.2, n) * (g.random(n) < 0.8)
    total = lo.sum() + g.uniform(0, 1) * (up.sum() - lo.sum())
    z = g.normal(0, 0.5, n)
    out = np.empty(n)
    args = (kink, width) if kinked else (None, None)
    qp_kernels._project(z, lo, up, *args, total, np.empty(4 * n), out)
    ref = bisection_projection(z, lo, up, *(args if kinked else (lo, np.zeros(n))), total)
    # both exact up to rounding; the bisection to 2^-200 of its bracket
    np.testing.assert_allclose(out, ref, atol=1e-12)
    assert abs(out.sum() - total) < 1e-12


@pytest.mark.parametrize("cap", [0.3, 1.0])
def test_compiled_proportional_costs_equal_clarabel(cap):
    n, b = 8, 10
    p, q, totals, lower, upper = box_problem(b, n, seed=11, cap=cap)
    g = torch.Generator().manual_seed(12)
    kink = torch.rand(b, n, generator=g, dtype=torch.float64) * cap
    kink[:, :2] = 0.0  # kinks at the lower bound
    kink[:, 2] = cap  # and at the upper one
    kappa = torch.rand(b, n, generator=g, dtype=torch.float64) * 0.2
    sol = qp_solver._solve(p, q, totals, lower, upper, 1, COMPILED, kink=kink, kappa=kappa)
    vec = qp_solver._solve(p, q, totals, lower, upper, 1, VECTORISED, kink=kink, kappa=kappa)
    assert sol.above is not None and sol.kkt is None
    for i in range(b):
        x = cp.Variable(n)
        pi, qi, ki, ci = (t[i].numpy() for t in (p, q, kink, kappa))
        cost = 0.5 * cp.quad_form(x, cp.psd_wrap(pi)) - qi @ x + ci @ cp.abs(x - ki)
        cp.Problem(cp.Minimize(cost), [cp.sum(x) == 1, x >= 0, x <= cap]).solve(**TIGHT)
        np.testing.assert_allclose(sol.x[i].numpy(), x.value, atol=1e-7)  # Clarabel at 1e-12
    torch.testing.assert_close(sol.x, vec.x, atol=1e-11, rtol=0)  # the same exact solution
    # a coordinate above its kink is strictly above it
    assert (sol.x[sol.above] > kink[sol.above]).all()


@pytest.mark.parametrize("kernel", ["compiled", "vectorised"])
def test_an_empty_batch_gives_empty_weights(kernel):
    layer = MarkowitzAllocator(4, max_weight=0.5, settings=QPSettings(kernel=kernel))
    mu = torch.zeros(0, 4, dtype=torch.float64, requires_grad=True)
    w = layer(mu, torch.zeros(0, 4, 4, dtype=torch.float64), 1.0, 0.01)
    assert w.shape == (0, 4)
    w.sum().backward()
    assert mu.grad is not None and mu.grad.shape == (0, 4)
