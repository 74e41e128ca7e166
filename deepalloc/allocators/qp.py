"""A batched, differentiable solver for box-constrained QPs with budget constraints.

Solves, for every sample of a batch at once (no Python loop over samples)::

    minimise    1/2 x' P x - q' x
    subject to  sum_{i in group g} x_i = total_g     for each group g
                lower <= x <= upper

with ``x`` of size ``n_groups * group_size`` (groups are contiguous blocks of equal size).
The long-only Markowitz problem is one group; the long-short problem with a gross
leverage cap uses two (long and short legs).

Forward, in three stages (:mod:`deepalloc.allocators.qp_solver`):

1. Warm start: a few accelerated projected-gradient steps (FISTA: Beck and Teboulle,
   "A fast iterative shrinkage-thresholding algorithm for linear inverse problems",
   SIAM J. Imaging Sci. 2(1), 2009), with the exact projection onto each group's
   box-constrained simplex, guess which coordinates sit at their bounds
   (:mod:`deepalloc.allocators.qp_warm`).
2. Primal-dual active-set iterations (Hintermüller, Ito and Kunisch, "The primal-dual
   active set strategy as a semismooth Newton method", SIAM J. Optim. 13(3), 2002)
   solve the KKT system exactly: each a batched Cholesky solve of ``P`` restricted to
   the free coordinates (bound coordinates are replaced by identity rows, so every
   sample keeps a fixed-size system) with the budget rows handled by a small Schur
   complement, then a new guess of the bound sets from the sign of
   ``x - grad / diag(P)`` against the bounds. A sample stops when its sets no longer
   change, its point is feasible and its scaled KKT residual is below ``tol``.
3. Those iterations can cycle on ill-conditioned problems, so samples still running
   after ``fallback_after`` of them finish with a primal active-set method that cannot
   (Nocedal and Wright, *Numerical Optimization*, algorithm 16.3;
   :mod:`deepalloc.allocators.qp_primal`), from their projected points (with kinks,
   after a few proximal gradient steps from there, which land exactly on the kinks, so
   that the method, which changes one coordinate's set per step, starts on nearly the
   final set). A sample that does not converge within
   ``max_iter`` raises :class:`~deepalloc.errors.SolverError` naming it.

Backward: implicit differentiation of the KKT conditions on the final active set, as in
OptNet (Amos and Kolter, "OptNet: differentiable optimization as a layer in neural
networks", ICML 2017), reusing the last factorisation. With ``(a, c)`` the solution of
the KKT system with right-hand side ``dL/dx`` on the free coordinates and zero on the
budget rows: ``dL/dq = a``, ``dL/dP = -(a x' + x a') / 2``, ``dL/dtotals = c``, and a
coordinate held at a bound passes ``dL/dx_i - (P a)_i - c_g(i)`` to that bound.

Compiled forward pass. With numba installed (the ``fast`` extra), problems on the CPU
(any number of budget groups, kinks included) run the same three stages compiled, one
sample at a time (:mod:`deepalloc.allocators.qp_compiled`; ``QPSettings.kernel``): per sample
an active-set step costs about what a FISTA step does, so there the warm start is
skipped by default. The backward pass's solve on the final free sets is compiled too;
the rest of the backward pass is the same for both. Forward and backward together
measured 1.3-3.5x faster than the vectorised layer from 32 x 10 to 32 x 500 and
1,024 x 50 (``benchmarks/RESULTS.md``, QP layer scaling).

Cost per call (vectorised). At the sizes a network meets, the time is mostly the fixed
cost of each tensor operation, so every stage is written to launch few of them: no
input check synchronises more than once; all samples stay in the batch until shrinking it saves
more than it costs (:data:`~deepalloc.allocators.qp_solver.SHRINK_WORK`); batched
products take the fast row-vector form. Threads: small problems run on one intra-op
thread (:data:`SINGLE_THREAD_WORK`), which also keeps them fast on a busy machine,
where waking a second thread for microsecond kernels costs more than it saves.

``torch.compile``: the solver's loop depends on the data (active sets, convergence), so
under compilation the layer is one opaque custom operator (``deepalloc::box_qp``,
``deepalloc::mean_variance_qp``) with a registered fake and backward: a compiled network
has no graph break at the layer, and the operator still runs every input check eagerly.
Outside compilation the same code runs through a plain autograd function (a custom
operator's dispatch costs about 60 microseconds more per call).
"""

from __future__ import annotations

from typing import Any

import torch

from deepalloc.allocators.qp_grad import (
    SINGLE_THREAD_WORK,
    box_backward,
    final_kkt,
    mean_variance_backward,
    mean_variance_forward,
    solve_checked,
    solver_threads,
)
from deepalloc.allocators.qp_ops import box_qp_op, mean_variance_op
from deepalloc.allocators.qp_solver import QPSettings, check_shapes

__all__ = ["SINGLE_THREAD_WORK", "QPSettings", "mean_variance_qp", "solve_box_qp"]


class BoxQPFunction(torch.autograd.Function):
    """Autograd function ``(P, q, totals, lower, upper) -> x``; see the module docstring."""

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
        sol = solve_checked(p, q, totals, lower, upper, groups, settings)
        ctx.kkt, ctx.groups, ctx.settings = sol.kkt, groups, settings
        ctx.save_for_backward(sol.x, sol.free, p, lower)
        return sol.x

    @staticmethod
    def backward(ctx: Any, grad_x: torch.Tensor) -> tuple[Any, ...]:
        x, free, p, lower = ctx.saved_tensors
        with solver_threads(ctx.settings, *x.shape):
            kkt = final_kkt(ctx.kkt, p, free, ctx.groups, ctx.settings)
            grads = box_backward(kkt, x, p, lower, grad_x, ctx.needs_input_grad[:5])
        return (*grads, None, None)


class MeanVarianceFunction(torch.autograd.Function):
    """``(mu, S, gamma, alpha, kink, kappa) -> w`` for ``P = 2 (gamma S'S + diag(alpha))``,
    ``q = mu`` and, when ``kink`` and ``kappa`` are given, the costs
    ``kappa |w - kink|``.

    The backward pass maps the adjoint straight to the inputs, without forming
    ``dL/dP`` (:func:`~deepalloc.allocators.qp_grad.mean_variance_backward`): O(batch n^2)
    after the factorisation.
    """

    @staticmethod
    def forward(
        ctx: Any,
        mu: torch.Tensor,
        s: torch.Tensor,
        gamma: torch.Tensor,
        alpha: torch.Tensor,
        lower: torch.Tensor,
        upper: torch.Tensor,
        kink: torch.Tensor | None,
        kappa: torch.Tensor | None,
        settings: QPSettings,
    ) -> torch.Tensor:
        sol, p = mean_variance_forward(mu, s, gamma, alpha, lower, upper, settings, kink, kappa)
        ctx.kkt, ctx.settings, ctx.kinked = sol.kkt, settings, sol.above is not None
        above = sol.above if sol.above is not None else sol.free
        ctx.save_for_backward(sol.x, sol.free, above, p, s, gamma, alpha, kink)
        return sol.x

    @staticmethod
    def backward(ctx: Any, grad_x: torch.Tensor) -> tuple[Any, ...]:
        x, free, above, p, s, gamma, alpha, kink = ctx.saved_tensors
        with solver_threads(ctx.settings, *x.shape):
            kkt = final_kkt(ctx.kkt, p, free, 1, ctx.settings)
            grads = mean_variance_backward(
                kkt, x, s, gamma, alpha, grad_x, ctx.needs_input_grad[1],
                kink if ctx.kinked else None, above if ctx.kinked else None,
            )  # fmt: skip
        return (*grads[:4], None, None, *grads[4:], None)


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
    """Solve the batched QP of the module docstring, differentiably in every tensor.

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
    settings = settings or QPSettings()
    check_shapes(p, q, totals, lower, upper, groups)
    if q.shape[0] == 0:  # an empty batch: nothing to solve (and no graph to break)
        return q * 0.0
    if torch.compiler.is_compiling():
        return box_qp_op(p, q, totals, lower, upper, groups, settings.as_args())[0]
    out: torch.Tensor = BoxQPFunction.apply(p, q, totals, lower, upper, groups, settings)
    return out


def mean_variance_qp(
    mu: torch.Tensor,
    s: torch.Tensor,
    gamma: torch.Tensor,
    alpha: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    settings: QPSettings,
    kink: torch.Tensor | None = None,
    kappa: torch.Tensor | None = None,
) -> torch.Tensor:
    """``argmax mu'w - gamma ||S w||^2 - sum_i alpha_i w_i^2 - sum_i kappa_i |w_i - kink_i|``
    s.t. ``sum(w) = 1``, ``lower <= w <= upper``, differentiable in ``mu, S, gamma,
    alpha, kink, kappa`` (the last term only when ``kink`` and ``kappa`` are given).

    Shapes: ``mu``, ``lower``, ``upper``, ``kink``, ``kappa`` (batch, n) with
    ``lower <= kink <= upper``; ``s`` (batch, n, n); ``gamma`` (batch,); ``alpha``
    (batch,) or (batch, n). Shapes are the caller's to check; values (finite,
    non-negative ``gamma, alpha, kappa``) are checked here, with one synchronisation.
    """
    if kink is None or kappa is None:
        kink = kappa = None
    if mu.shape[0] == 0:  # an empty batch: nothing to solve
        return mu * 0.0
    if torch.compiler.is_compiling():
        return mean_variance_op(mu, s, gamma, alpha, lower, upper, kink, kappa, settings.as_args())[
            0
        ]
    out: torch.Tensor = MeanVarianceFunction.apply(
        mu, s, gamma, alpha, lower, upper, kink, kappa, settings
    )
    return out
