"""A batched, differentiable solver for box-constrained QPs with budget constraints.

Solves, for every sample of a batch at once (no Python loop over samples)::

    minimise    1/2 x' P x - q' x
    subject to  sum_{i in group g} x_i = total_g     for each group g
                lower <= x <= upper

with ``x`` of size ``n_groups * group_size`` (groups are contiguous blocks of equal size).
The long-only Markowitz problem is one group; the long-short problem with a gross
leverage cap uses two (long and short legs).

Forward, in three stages:

1. Warm start: a few accelerated projected-gradient steps (FISTA: Beck and Teboulle,
   "A fast iterative shrinkage-thresholding algorithm for linear inverse problems",
   SIAM J. Imaging Sci. 2(1), 2009), with the exact projection onto each group's
   box-constrained simplex, guess which coordinates sit at their bounds
   (:mod:`deepalloc.allocators.qp_warm`).
2. Primal-dual active-set iterations (Hintermüller, Ito and Kunisch, "The primal-dual
   active set strategy as a semismooth Newton method", SIAM J. Optim. 13(3), 2002)
   solve the KKT system exactly, one :func:`_pdas_step` each: a batched Cholesky solve
   of ``P`` restricted to the free coordinates (bound coordinates are replaced by
   identity rows, so every sample keeps a fixed-size system) with the budget rows
   handled by a small Schur complement, then a new guess of the bound sets from the
   sign of ``x - grad / diag(P)`` against the bounds. A sample stops when its sets no
   longer change, its point is feasible and its scaled KKT residual is below ``tol``.
3. Those iterations can cycle on ill-conditioned problems, so samples still running
   after ``fallback_after`` of them finish with a primal active-set method that cannot
   (Nocedal and Wright, *Numerical Optimization*, algorithm 16.3;
   :mod:`deepalloc.allocators.qp_primal`). A sample that does not converge within
   ``max_iter`` raises :class:`~deepalloc.errors.SolverError` naming it.

Backward: implicit differentiation of the KKT conditions on the final active set, as in
OptNet (Amos and Kolter, "OptNet: differentiable optimization as a layer in neural
networks", ICML 2017), reusing the last factorisation: ``dL/dq = a`` and
``dL/dP = -(a x' + x a') / 2`` where ``a`` solves the KKT system with right-hand side
``dL/dx`` on the free coordinates (and zero on the budget rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch

from deepalloc._checks import check_finite, check_ndim
from deepalloc.allocators.qp_kkt import ReducedKKT, group_matrix, keep_one_free, matvec
from deepalloc.allocators.qp_primal import primal_active_set
from deepalloc.allocators.qp_warm import WarmStartQP, largest_eigenvalue
from deepalloc.errors import SolverError

TOL_FLOOR_EPS = 50
"""The KKT tolerance is never below this many machine epsilons of the inputs' dtype: the
residual of an exact solve is a few epsilons times the problem's scale (float32!)."""

BOUND_SLACK = 1e-10
"""A primal-dual iterate may exceed its bounds by ``max(BOUND_SLACK, 10 eps) (1 + span)``
and still count as feasible: the free coordinates come from a linear solve, whose
rounding is far below this in float64, while a real violation is far above it."""


@dataclass(frozen=True)
class QPSettings:
    """Solver settings.

    Attributes
    ----------
    warm_steps
        Most FISTA steps used to guess the active set.
    check_every
        The warm start stops early when the set of coordinates at their bounds is the
        same at two checks this many steps apart.
    max_iter
        Active-set iterations (of both methods) before giving up.
    tol
        Tolerance on the scaled KKT residual (never below 50 machine epsilons of the
        inputs' dtype).
    fallback_after
        Primal-dual active-set iterations after which samples still running continue
        with the primal active-set method (:mod:`deepalloc.allocators.qp_primal`),
        which cannot cycle.
    """

    warm_steps: int = 10
    check_every: int = 4
    max_iter: int = 500
    tol: float = 1e-9
    fallback_after: int = 8

    def __post_init__(self) -> None:
        for name in ("warm_steps", "check_every", "max_iter", "fallback_after"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "warm_steps" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not self.tol > 0:
            raise ValueError(f"tol: expected a positive number, got {self.tol!r}")


class _PDASStep(NamedTuple):
    """One primal-dual active-set step on a batch: the working-set solution ``x``, its
    factorisation, the next bound sets and which samples are done."""

    x: torch.Tensor
    kkt: ReducedKKT
    at_lower: torch.Tensor
    at_upper: torch.Tensor
    done: torch.Tensor


def _pdas_step(
    problem: WarmStartQP,
    at_lower: torch.Tensor,
    at_upper: torch.Tensor,
    a_mat: torch.Tensor,
    tol: float,
) -> _PDASStep:
    """Solve on the current bound sets, then guess the next ones (module docstring, 2).

    The next sets come from the semismooth Newton view of the complementarity
    conditions: a coordinate whose Newton point ``x - grad / P_ii`` falls below its
    lower (above its upper) bound is held there; every group keeps a free coordinate.
    A sample is done when its sets are unchanged, its point is within
    :data:`BOUND_SLACK` of its bounds and its gradient on the free coordinates is below
    ``tol`` times the problem's scale.
    """
    eps = torch.finfo(problem.q.dtype).eps
    free = ~(at_lower | at_upper)
    x, nu, kkt = problem.solve_working_set(at_lower, at_upper, a_mat)
    grad = matvec(problem.p, x) - problem.q + nu @ a_mat
    diag = torch.diagonal(problem.p, dim1=-2, dim2=-1)
    newton = x - grad / diag.clamp_min(torch.finfo(problem.q.dtype).tiny)
    new_lower = newton < problem.lower
    new_upper = (newton > problem.upper) & ~new_lower
    new_fixed = torch.where(new_lower, problem.lower, torch.where(new_upper, problem.upper, x))
    new_lower, new_upper = keep_one_free(
        new_lower,
        new_upper,
        nu @ a_mat - grad,
        problem.totals - new_fixed @ a_mat.T,
        problem.groups,
    )
    slack = max(BOUND_SLACK, 10 * eps) * (1.0 + (problem.upper - problem.lower).abs())
    feasible = ((x - problem.upper <= slack) & (problem.lower - x <= slack)).all(-1)
    unchanged = (new_lower == at_lower).all(-1) & (new_upper == at_upper).all(-1)
    done = unchanged & feasible & ((grad * free).abs().amax(-1) <= tol * problem.scale())
    return _PDASStep(x, kkt, new_lower, new_upper, done)


def _solve(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
    settings: QPSettings,
) -> tuple[torch.Tensor, ReducedKKT, int]:
    """Solutions (batch, n), their final factorisation and the iterations taken."""
    b, n = q.shape
    a_mat = group_matrix(groups, n, q)
    # 1. warm start: FISTA on the feasible set, step 1 / (estimated largest eigenvalue)
    full = WarmStartQP(p, q, totals, lower, upper, groups, largest_eigenvalue(p)[:, None])
    x_pg = full.fista(full.project(q / full.lipschitz), settings.warm_steps, settings.check_every)
    at_lower, at_upper = full.bound_sets(x_pg, a_mat)
    tol = max(settings.tol, TOL_FLOOR_EPS * torch.finfo(q.dtype).eps)
    # 2. primal-dual active-set steps, each on the samples still running only
    x = torch.zeros_like(q)
    kkt_all: ReducedKKT | None = None
    active = torch.arange(b, device=q.device)
    pdas_iter = min(settings.fallback_after, settings.max_iter)
    for iteration in range(1, pdas_iter + 1):
        sub = full if len(active) == b else full.index(active)
        step = _pdas_step(sub, at_lower[active], at_upper[active], a_mat, tol)
        x.index_copy_(0, active, step.x)
        if kkt_all is None:
            kkt_all = step.kkt
        else:
            kkt_all.merge(active, step.kkt)
        at_lower.index_copy_(0, active, step.at_lower)
        at_upper.index_copy_(0, active, step.at_upper)
        active = active[~step.done]
        if len(active) == 0:
            return x, kkt_all, iteration
    # 3. the samples still running finish with the primal active-set method
    assert kkt_all is not None
    extra = _finish_with_primal(full, x, kkt_all, active, a_mat, settings, tol)
    return x, kkt_all, pdas_iter + extra


def _finish_with_primal(
    full: WarmStartQP,
    x: torch.Tensor,
    kkt_all: ReducedKKT,
    active: torch.Tensor,
    a_mat: torch.Tensor,
    settings: QPSettings,
    tol: float,
) -> int:
    """Solve the samples ``active`` by the primal active-set method from their projected
    points, with the iterations ``settings.max_iter`` leaves after the primal-dual ones;
    write into ``x`` and ``kkt_all`` and return the steps taken."""
    rest = full.index(active)
    budget = settings.max_iter - min(settings.fallback_after, settings.max_iter)
    x_rest, free_rest, converged, extra = primal_active_set(
        rest, rest.project(x[active]), budget, tol
    )
    if not bool(converged.all()):
        bad = active[~converged].tolist()
        raise SolverError(
            f"QP: expected the active-set iterations to converge within {settings.max_iter} "
            f"iterations, got {len(bad)} unconverged samples {bad[:10]}",
            bad,
        )
    x.index_copy_(0, active, x_rest)
    kkt_all.merge(active, ReducedKKT(rest.p, free_rest, a_mat))
    return extra


class BoxQPFunction(torch.autograd.Function):
    """Autograd function ``(P, q) -> x``; see the module docstring."""

    @staticmethod
    def forward(
        ctx: Any,
        p: torch.Tensor,
        q: torch.Tensor,
        totals: torch.Tensor,
        lower: torch.Tensor,
        upper: torch.Tensor,
        groups: int,
        settings: QPSettings,
    ) -> torch.Tensor:
        x, kkt, _ = _solve(p, q, totals, lower, upper, groups, settings)
        ctx.kkt = kkt
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad_x: torch.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        a = _adjoint(ctx.kkt, grad_x)
        grad_p = -0.5 * (a[:, :, None] * x[:, None, :] + x[:, :, None] * a[:, None, :])
        return grad_p, a, None, None, None, None, None


def _adjoint(kkt: ReducedKKT, grad_x: torch.Tensor) -> torch.Tensor:
    """Solve the KKT system on the final active set with right-hand side ``dL/dx``.

    The result ``a`` is ``dL/dq``, and ``dL/dP = -(a x' + x a') / 2``.
    """
    zero_budget = grad_x.new_zeros(grad_x.shape[0], kkt.a_free.shape[1])
    a, _ = kkt.solve(grad_x, zero_budget)
    return a


class MeanVarianceFunction(torch.autograd.Function):
    """``(mu, S, gamma, alpha) -> w`` for ``P = 2 (gamma S'S + alpha I)``, ``q = mu``.

    The backward pass maps the adjoint ``a`` straight to the inputs, without forming
    ``dL/dP``: with ``dL/dP = -(a w' + w a') / 2``,
    ``dL/dS = -2 gamma (S a w' + S w a')``, ``dL/dgamma = -2 (S a)'(S w)``,
    ``dL/dalpha = -2 a'w`` and ``dL/dmu = a``: O(batch n^2).
    """

    @staticmethod
    def forward(
        ctx: Any,
        mu: torch.Tensor,
        s: torch.Tensor,
        gamma: torch.Tensor,
        alpha: torch.Tensor,
        totals: torch.Tensor,
        lower: torch.Tensor,
        upper: torch.Tensor,
        settings: QPSettings,
    ) -> torch.Tensor:
        p = torch.bmm(s.transpose(1, 2), s).mul_((2 * gamma)[:, None, None])
        p.diagonal(dim1=-2, dim2=-1).add_((2 * alpha)[:, None])
        x, kkt, _ = _solve(p, mu, totals, lower, upper, 1, settings)
        ctx.kkt = kkt
        ctx.save_for_backward(x, s, gamma)
        return x

    @staticmethod
    def backward(ctx: Any, grad_x: torch.Tensor) -> tuple[Any, ...]:
        x, s, gamma = ctx.saved_tensors
        a = _adjoint(ctx.kkt, grad_x)
        s_a, s_x = matvec(s, a), matvec(s, x)
        grad_s = None
        if ctx.needs_input_grad[1]:
            grad_s = (s_a[:, :, None] * x[:, None, :] + s_x[:, :, None] * a[:, None, :]).mul_(
                (-2 * gamma)[:, None, None]
            )
        grad_gamma = -2 * (s_a * s_x).sum(-1)
        grad_alpha = -2 * (a * x).sum(-1)
        return a, grad_s, grad_gamma, grad_alpha, None, None, None, None


def check_box_qp(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
) -> None:
    """Raise unless the batched QP's inputs have matching shapes, are finite and feasible.

    Feasible: ``lower <= upper`` and every group's total within the sum of its lower
    and the sum of its upper bounds (up to rounding). A few reductions, no loop.
    """
    check_ndim("q", q, 2, "batch, n")
    b, n = q.shape
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or n % groups:
        raise ValueError(f"groups: expected a positive divisor of n = {n}, got {groups!r}")
    for name, tensor, shape in (
        ("p", p, (b, n, n)),
        ("totals", totals, (b, groups)),
        ("lower", lower, (b, n)),
        ("upper", upper, (b, n)),
    ):
        if not isinstance(tensor, torch.Tensor) or tuple(tensor.shape) != shape:
            got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor)
            raise ValueError(f"{name}: expected shape {shape}, got {got}")
    for name, tensor in (
        ("p", p),
        ("q", q),
        ("totals", totals),
        ("lower", lower),
        ("upper", upper),
    ):
        check_finite(name, tensor)
    crossed = (lower > upper).any(-1)
    if bool(crossed.any()):
        bad = torch.nonzero(crossed).flatten().tolist()
        raise ValueError(
            f"lower, upper: expected lower <= upper, got lower > upper in samples {bad[:10]}"
        )
    low_sum = lower.reshape(b, groups, -1).sum(-1)
    high_sum = upper.reshape(b, groups, -1).sum(-1)
    slack = 4 * (n // groups) * torch.finfo(q.dtype).eps * (1 + low_sum.abs() + high_sum.abs())
    infeasible = ((totals < low_sum - slack) | (totals > high_sum + slack)).any(-1)
    if bool(infeasible.any()):
        bad = torch.nonzero(infeasible).flatten().tolist()
        i = bad[0]
        raise ValueError(
            f"totals: expected each group's total between the sums of its lower and upper "
            f"bounds, got infeasible totals in samples {bad[:10]} (sample {i}: totals "
            f"{totals[i].tolist()}, bound sums [{low_sum[i].tolist()}, {high_sum[i].tolist()}])"
        )


def solve_box_qp(
    p: torch.Tensor,
    q: torch.Tensor,
    *,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int = 1,
    settings: QPSettings | None = None,
) -> torch.Tensor:
    """Solve the batched QP of the module docstring, differentiably in ``P`` and ``q``.

    Parameters
    ----------
    p
        Symmetric positive definite matrices, shape (batch, n, n).
    q
        Linear terms, shape (batch, n).
    totals
        Budget of each group, shape (batch, groups); each must lie between the sums of
        its group's lower and upper bounds.
    lower, upper
        Bounds, shape (batch, n), finite, ``lower <= upper``.
    groups
        Number of contiguous, equal-size budget groups.
    settings
        Solver settings.

    Returns
    -------
    torch.Tensor
        Solutions, shape (batch, n), within the bounds up to ``BOUND_SLACK``.

    Raises
    ------
    ValueError
        Shapes that do not match, non-finite inputs
        (:class:`~deepalloc.errors.NonFiniteError`) or infeasible totals or bounds,
        naming the argument and the samples.
    SolverError
        Samples that do not converge within ``settings.max_iter`` iterations.
    """
    check_box_qp(p, q, totals, lower, upper, groups)
    out: torch.Tensor = BoxQPFunction.apply(
        p, q, totals, lower, upper, groups, settings or QPSettings()
    )
    return out
