"""The Costa & Iyengar decision layers against direct Clarabel solves of the paper's
problems, finite differences, and each other (fast path vs conic path)."""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
import pytest
import torch

from deepalloc.allocators import (
    HellingerDRAllocator,
    NominalAllocator,
    SolverError,
    TVDRAllocator,
)
from deepalloc.allocators.robust_fast import hellinger_newton, newton_radius, worst_case
from deepalloc.errors import NonFiniteError

TIGHT = {"solver": "CLARABEL", "tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}


def problem(batch: int, t: int, n: int, seed: int, scale: float = 1.0):
    """mu (batch, n), errors (batch, t, n) with a common factor, gamma (batch,)."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(batch, t, n, generator=g, dtype=torch.float64)
    e = e + 0.7 * torch.randn(batch, t, 1, generator=g, dtype=torch.float64)
    mu = 0.3 * torch.randn(batch, n, generator=g, dtype=torch.float64) + 0.1
    gamma = torch.exp(0.5 * torch.randn(batch, generator=g, dtype=torch.float64))
    return mu * scale**2, e * scale, gamma


def reference(kind: str, mu, e, gamma, delta=0.0):
    """The paper's problem for one sample, written out scenario by scenario as in the
    paper (auxiliary c, one constraint per error), solved by Clarabel at tight tolerance."""
    t, n = e.shape
    z, c = cp.Variable(n, nonneg=True), cp.Variable()
    cons = [cp.sum(z) == 1]
    dev = [cp.square(e[i] @ z - c) for i in range(t)]
    ret = gamma * (mu @ z)
    if kind == "nominal":
        obj = sum(dev) / t - ret
    elif kind == "hellinger":
        lam, xi = cp.Variable(nonneg=True), cp.Variable()
        beta, tau = cp.Variable(t, nonneg=True), cp.Variable(t, nonneg=True)
        for i in range(t):
            cons += [xi + lam >= dev[i] + tau[i], beta[i] >= cp.quad_over_lin(lam, tau[i])]
        obj = xi + (delta - 1) * lam + cp.sum(beta) / t - ret
    else:
        lam, eta, beta = cp.Variable(nonneg=True), cp.Variable(), cp.Variable(t)
        cons += [beta >= -lam]
        for i in range(t):
            cons += [beta[i] >= dev[i] - eta, lam >= dev[i] - eta]
        obj = eta + delta * lam + cp.sum(beta) / t - ret
    prob = cp.Problem(cp.Minimize(obj), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Clarabel flags 1e-11 as 'almost solved' at times
        prob.solve(**TIGHT)
    assert prob.status in ("optimal", "optimal_inaccurate")
    return np.asarray(z.value)


def check_against_reference(kind, w, mu, e, gamma, delta=None, atol=1e-5):
    for i in range(len(mu)):
        d = 0.0 if delta is None else float(delta[i])
        ref = reference(kind, mu[i].numpy(), e[i].numpy(), gamma[i].item(), d)
        np.testing.assert_allclose(w[i].detach().numpy(), ref, atol=atol)


@pytest.mark.parametrize("method", ["qp", "cvxpylayers"])
def test_nominal_matches_clarabel(method):
    mu, e, gamma = problem(3, 12, 5, seed=0)
    w = NominalAllocator(method=method)(mu, e, gamma)
    check_against_reference("nominal", w, mu, e, gamma)
    assert (w > 1e-4).sum() < w.numel()  # some weights sit at zero: the bounds matter


@pytest.mark.parametrize("method", ["newton", "cvxpylayers"])
def test_hellinger_matches_clarabel(method):
    mu, e, gamma = problem(3, 12, 5, seed=1)
    delta = torch.tensor([0.05, 0.4, 1.2], dtype=torch.float64)
    w = HellingerDRAllocator(method=method)(mu, e, gamma, delta)
    check_against_reference("hellinger", w, mu, e, gamma, delta)


def test_tv_matches_clarabel():
    mu, e, gamma = problem(3, 12, 5, seed=2)
    delta = torch.tensor([0.05, 0.4, 1.2], dtype=torch.float64)
    w = TVDRAllocator()(mu, e, gamma, delta)
    check_against_reference("tv", w, mu, e, gamma, delta)


def test_weekly_scale_errors_match_clarabel():
    # the paper's scale (weekly errors ~3%): the layers rescale internally; the
    # reference is solved on the same problem scaled by hand (z is scale invariant)
    mu, e, gamma = problem(2, 30, 6, seed=3, scale=0.03)
    delta = torch.tensor([0.3, 0.6], dtype=torch.float64)
    ws = {
        "nominal": NominalAllocator()(mu, e, gamma),
        "hellinger": HellingerDRAllocator()(mu, e, gamma, delta),
        "tv": TVDRAllocator()(mu, e, gamma, delta),
    }
    for kind, w in ws.items():
        check_against_reference(kind, w, mu / 0.03**2, e / 0.03, gamma, delta)


def test_fast_paths_equal_the_conic_paths():
    mu, e, gamma = problem(4, 20, 6, seed=4)
    delta = torch.tensor([0.02, 0.3, 0.8, 1.5], dtype=torch.float64)
    nom = NominalAllocator()(mu, e, gamma)
    nom_conic = NominalAllocator(method="cvxpylayers")(mu, e, gamma)
    torch.testing.assert_close(nom, nom_conic, atol=1e-7, rtol=0)
    hel = HellingerDRAllocator()(mu, e, gamma, delta)
    hel_conic = HellingerDRAllocator(method="cvxpylayers")(mu, e, gamma, delta)
    torch.testing.assert_close(hel, hel_conic, atol=1e-6, rtol=0)


def test_delta_zero_is_the_nominal_layer():
    mu, e, gamma = problem(3, 20, 6, seed=5)
    nom = NominalAllocator()(mu, e, gamma)
    torch.testing.assert_close(HellingerDRAllocator()(mu, e, gamma, 0.0), nom, atol=1e-7, rtol=0)
    torch.testing.assert_close(TVDRAllocator()(mu, e, gamma, 0.0), nom, atol=1e-6, rtol=0)


def test_hellinger_radii_beyond_the_newton_range_use_the_conic_path():
    # 12 errors of 4 assets: Newton serves delta < 2 (1 - sqrt(5/12)) = 0.709; the
    # point-mass radius is 2 (1 - 1/sqrt(12)) = 1.42
    mu, e, gamma = problem(3, 12, 4, seed=6)
    assert abs(newton_radius(12, 4) - 0.7090) < 1e-4
    delta = torch.tensor([0.3, 1.0, 1.6], dtype=torch.float64)
    w = HellingerDRAllocator()(mu, e, gamma, delta)
    check_against_reference("hellinger", w, mu, e, gamma, delta)


def test_worst_case_distribution_is_the_primal_maximiser():
    # the closed form against the primal problem max p'r over the Hellinger ball
    g = torch.Generator().manual_seed(7)
    r = torch.rand(3, 15, generator=g, dtype=torch.float64)
    delta = torch.tensor([0.05, 0.5, 1.1], dtype=torch.float64)
    p, _ = worst_case(r, delta)
    for i in range(3):
        pv = cp.Variable(15, nonneg=True)
        ball = cp.sum(cp.square(cp.sqrt(pv) - np.sqrt(1 / 15)))
        # sum (sqrt p - sqrt q)^2 = 2 - 2 sum sqrt(p q) on the simplex: a concave constraint
        cons = [cp.sum(pv) == 1, 2 - 2 * cp.sum(cp.sqrt(pv)) / np.sqrt(15) <= delta[i].item()]
        prob = cp.Problem(cp.Maximize(r[i].numpy() @ pv), cons)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prob.solve(**TIGHT)
        assert ball is not None
        np.testing.assert_allclose(float(p[i] @ r[i]), prob.value, rtol=1e-9)
        np.testing.assert_allclose(p[i].numpy(), pv.value, atol=1e-6)


def test_newton_gradients_match_finite_differences():
    # 6 errors of 3 assets: the Newton path serves delta < 2 (1 - sqrt(4/6)) = 0.37
    mu, e, gamma = problem(1, 6, 3, seed=8)
    inputs = [x.clone().requires_grad_(True) for x in (mu, e, gamma)]
    inputs.append(torch.tensor([0.25], dtype=torch.float64, requires_grad=True))
    layer = HellingerDRAllocator()
    assert torch.autograd.gradcheck(
        lambda *xs: layer(*xs), tuple(inputs), eps=1e-6, atol=1e-6, rtol=1e-4
    )
    # the larger case along random directions (gradcheck's fast mode)
    mu, e, gamma = problem(2, 10, 3, seed=9)
    delta = torch.tensor([0.2, 0.6], dtype=torch.float64)
    big = tuple(x.clone().requires_grad_(True) for x in (mu, e, gamma, delta))
    assert torch.autograd.gradcheck(
        lambda *xs: layer(*xs), big, eps=1e-6, atol=1e-6, rtol=1e-4, fast_mode=True
    )
    nominal = NominalAllocator()
    assert torch.autograd.gradcheck(
        lambda *xs: nominal(*xs), big[:3], eps=1e-6, atol=1e-6, rtol=1e-4
    )


def _directional_fd(layer, inputs, direction_seed, eps=1e-4):
    """Weights' derivative along a random direction of all inputs, by central differences,
    and the same from autograd."""
    g = torch.Generator().manual_seed(direction_seed)
    dirs = [torch.randn(x.shape, generator=g, dtype=x.dtype) for x in inputs]
    xs = [x.clone().requires_grad_(True) for x in inputs]
    w = layer(*xs)
    cot = torch.randn(w.shape, generator=g, dtype=w.dtype)
    grads = torch.autograd.grad((w * cot).sum(), xs)
    analytic = sum(float((gr * d).sum()) for gr, d in zip(grads, dirs, strict=True))
    with torch.no_grad():
        plus = layer(*[x + eps * d for x, d in zip(inputs, dirs, strict=True)])
        minus = layer(*[x - eps * d for x, d in zip(inputs, dirs, strict=True)])
    numeric = float(((plus - minus) * cot).sum()) / (2 * eps)
    return analytic, numeric


@pytest.mark.parametrize(
    "make", [lambda: HellingerDRAllocator(method="cvxpylayers"), TVDRAllocator]
)
def test_conic_gradients_match_finite_differences(make):
    # SCS solves to 1e-10 here, so central differences with eps 1e-4 are good to ~1e-6
    mu, e, gamma = problem(2, 8, 4, seed=9)
    delta = torch.tensor([0.2, 0.7], dtype=torch.float64)
    for seed in range(2):
        analytic, numeric = _directional_fd(make(), (mu, e, gamma, delta), seed)
        assert abs(analytic - numeric) <= 1e-4 * (1 + abs(numeric))


def test_dtype_device_shape_and_budget():
    mu, e, gamma = problem(3, 10, 4, seed=10)
    for layer, extra in (
        (NominalAllocator(), ()),
        (HellingerDRAllocator(), (0.3,)),
        (TVDRAllocator(), (0.3,)),
    ):
        w32 = layer(mu.float(), e.float(), gamma.float(), *extra)
        assert w32.dtype == torch.float32 and w32.shape == (3, 4)
        w = layer(mu, e, 0.5, *extra)  # scalar gamma broadcast over the batch
        assert w.dtype == torch.float64
        torch.testing.assert_close(w.sum(-1), torch.ones(3, dtype=torch.float64))
        assert (w >= -1e-9).all()


def test_bad_inputs_raise():
    mu, e, gamma = problem(2, 6, 3, seed=11)
    layer = HellingerDRAllocator()
    with pytest.raises(ValueError, match="errors: expected a 3-d tensor"):
        layer(mu, e[0], gamma, 0.1)
    with pytest.raises(ValueError, match="expected the same asset size"):
        layer(mu[:, :2], e, gamma, 0.1)
    with pytest.raises(ValueError, match="expected the same batch size"):
        layer(mu[:1], e, gamma, 0.1)
    with pytest.raises(ValueError, match="delta: expected non-negative"):
        layer(mu, e, gamma, -0.1)
    with pytest.raises(ValueError, match=r"gamma: expected a scalar or shape \(2,\)"):
        layer(mu, e, torch.ones(3, dtype=torch.float64), 0.1)
    bad = e.clone()
    bad[1, 2, 0] = float("nan")
    with pytest.raises(NonFiniteError, match="errors: expected finite values"):
        layer(mu, bad, gamma, 0.1)
    with pytest.raises(ValueError, match="method: expected one of"):
        NominalAllocator(method="newton")


@pytest.mark.filterwarnings("ignore:Solved/Inaccurate")  # SCS stopped on purpose
def test_failed_solves_raise_solver_error():
    mu, e, gamma = problem(2, 12, 5, seed=12)
    delta = torch.tensor([0.3, 0.4], dtype=torch.float64)
    # Newton's method out of steps names the samples it left
    with pytest.raises(SolverError, match="converge within 1 steps") as err:
        hellinger_newton(mu, e, gamma, delta, max_iter=1)
    assert err.value.samples == [0, 1]
    # a conic solve that fails (here: SCS stopped after one iteration) raises, never
    # returns NaN or an inaccurate point
    layer = TVDRAllocator(solver_args={"max_iters": 1})
    with pytest.raises(SolverError, match="samples \\[0, 1\\]"):
        layer(mu, e, gamma, 0.5)
