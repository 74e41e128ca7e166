"""The benchmark's QP floor, reference and contender adapters against independent
computations (closed form, finite differences of Clarabel, the reference itself)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from benchmarks.qp_contenders import (
    CholeskyBudgetSolve,
    Problem,
    forward_backward,
    make_problem,
    quadratic,
)
from benchmarks.qp_reference import accuracy, reference


def test_floor_solves_the_budget_problem_and_passes_gradcheck() -> None:
    p = make_problem(3, 6)
    w = CholeskyBudgetSolve.apply(p.mu, p.s, p.gamma, p.alpha)
    for i in range(3):  # the KKT system of min 1/2 w'Qw - mu'w, sum w = 1, solved densely
        q = quadratic(p.s, p.gamma, p.alpha)[i].numpy()
        kkt = np.block([[q, np.ones((6, 1))], [np.ones((1, 6)), np.zeros((1, 1))]])
        expected = np.linalg.solve(kkt, np.append(p.mu[i].numpy(), 1.0))[:6]
        np.testing.assert_allclose(w[i].numpy(), expected, rtol=0, atol=1e-12)
    inputs = [t.clone().requires_grad_(True) for t in (p.mu, p.s, p.gamma, p.alpha)]
    assert torch.autograd.gradcheck(CholeskyBudgetSolve.apply, inputs)


def _perturbed(p: Problem, mu: torch.Tensor, s: torch.Tensor) -> Problem:
    return Problem(mu, s, p.gamma, p.alpha, p.cap, p.v)


def test_reference_gradients_match_finite_differences_of_clarabel() -> None:
    p = make_problem(2, 6)
    ref = reference(p)
    h = 1e-6
    # the active set must not change within h for differences to be the gradient
    assert ref.margin > 1e3 * h

    def loss(q: Problem) -> np.ndarray:
        return (reference(q).w * p.v.numpy()).sum(-1)  # per sample

    # central differences of a rational function of (mu, S) on a fixed active set:
    # truncation ~ h^2, rounding ~ 1e-16 / h = 1e-10 against gradients of order 1-100
    for j in range(6):
        e = torch.zeros_like(p.mu)
        e[:, j] = h
        fd = (loss(_perturbed(p, p.mu + e, p.s)) - loss(_perturbed(p, p.mu - e, p.s))) / (2 * h)
        np.testing.assert_allclose(fd, ref.grad_mu[:, j], rtol=1e-5, atol=1e-6)
    for r, c in [(0, 0), (1, 4), (5, 2), (3, 3)]:
        e = torch.zeros_like(p.s)
        e[:, r, c] = h
        fd = (loss(_perturbed(p, p.mu, p.s + e)) - loss(_perturbed(p, p.mu, p.s - e))) / (2 * h)
        np.testing.assert_allclose(fd, ref.grad_s[:, r, c], rtol=1e-5, atol=1e-6)


ADAPTERS = ["deepalloc", "cvxpylayers", "proxsuite", "qpth"]


@pytest.mark.parametrize("name", ADAPTERS)
def test_every_contender_solves_the_same_problem(name: str) -> None:
    """Each adapter feeds its solver the benchmark's problem (signs, bounds, budget)."""
    module = {"deepalloc": "deepalloc", "cvxpylayers": "cvxpylayers"}.get(name, name)
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{name} not installed (bench extra)")
    from benchmarks.qp_contenders import FACTORIES

    p = make_problem(2, 6)
    ref = reference(p)
    w, g_mu, g_s = forward_backward(FACTORIES[name](p), p)
    errors = accuracy(ref, w.numpy(), g_mu.numpy(), g_s.numpy())
    # loose on purpose: cvxpylayers' default SCS tolerance gives about 1e-4 in w and a few
    # percent in gradients; a wrong sign or bound would be off by O(cap) = 0.5
    assert errors.w_err < 1e-2
    assert errors.mu_err < 0.2
    assert errors.s_err < 0.2
