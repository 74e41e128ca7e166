"""The batched QP solver's fallback: a primal active-set method, which cannot cycle.

The primal-dual active-set iterations of :mod:`deepalloc.allocators.qp` usually finish
in a few steps, but may cycle on ill-conditioned problems (low-rank risk, a tiny L2
penalty). The samples still running after a few of those iterations continue here,
from a feasible point, with the textbook primal active-set method (Nocedal and Wright,
*Numerical Optimization*, algorithm 16.3): every step solves the equality-constrained
problem on the current working set of bounds, then either moves towards its solution
until the first bound blocks (that bound joins the set) or, at the solution, releases
the bound whose multiplier has the wrong sign. The objective never increases and a
working set is never visited twice, so the method ends after finitely many steps. Every
sample in the batch takes its own step; one batched factorisation per step.
"""

from __future__ import annotations

import torch

from deepalloc.allocators.qp_kinks import kinked_primal_step, start_sets
from deepalloc.allocators.qp_kkt import BoxQP, matvec, ratio_test, spread


def primal_active_set(
    problem: BoxQP, x: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Solve a batch of QPs from feasible points by the method of the module docstring.

    Parameters
    ----------
    problem
        The QPs (:class:`~deepalloc.allocators.qp_kkt.BoxQP`), n coordinates each.
    x
        Feasible starting points, shape (batch, n).
    max_iter
        Most steps.
    tol
        Tolerance on the scaled bound multipliers at the solution.

    Returns
    -------
    x, free, done, iterations
        Solutions (batch, n); the free coordinates of the final working sets (batch, n);
        which samples reached their optimum (batch,); the steps taken.
    """
    q = problem.q
    b, n = x.shape
    groups = problem.groups
    x = x.clone()
    at_lower = x <= problem.lower
    at_upper = (x >= problem.upper) & ~at_lower
    at_lower, at_upper = problem.keep_one_free(at_lower, at_upper, x)
    scale = problem.scale()
    done = torch.zeros(b, dtype=torch.bool, device=q.device)
    running = torch.arange(b, device=q.device)
    steps = 0
    while steps < max_iter and len(running):
        steps += 1
        sub = problem.index(running)
        x_r, lo, up = x[running], at_lower[running], at_upper[running]
        free = ~(lo | up)
        target, nu, _ = sub.solve_working_set(lo, up)
        d = target - x_r
        step, block, blocked, to_lower = ratio_test(x_r, d, free, sub.lower, sub.upper, groups)
        # at the target: a bound whose multiplier has the wrong sign is released
        grad = matvec(sub.p, target) - sub.q + spread(nu, n)
        wrong = torch.where(lo, -grad, torch.where(up, grad, torch.zeros_like(grad)))
        worst_value, worst = wrong.max(-1)
        optimal = ~blocked & (worst_value <= tol * scale[running])
        new_x = torch.where(blocked[:, None], x_r + step[:, None].clamp(max=1.0) * d, target)
        # a coordinate that ties with the blocking one may land a rounding error outside
        new_x = torch.clamp(new_x, sub.lower, sub.upper)
        rows = torch.nonzero(blocked).flatten()
        cols = block[rows]
        hits_lower = to_lower[rows, cols]
        new_x[rows, cols] = torch.where(hits_lower, sub.lower[rows, cols], sub.upper[rows, cols])
        lo[rows, cols] = hits_lower
        up[rows, cols] = ~hits_lower
        release = torch.nonzero(~blocked & ~optimal).flatten()
        lo[release, worst[release]] = False
        up[release, worst[release]] = False
        x[running], at_lower[running], at_upper[running] = new_x, lo, up
        done[running[optimal]] = True
        running = running[~optimal]
    return x, ~(at_lower | at_upper), done, steps


def primal_active_set_kinked(
    problem: BoxQP, x: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """:func:`primal_active_set` for problems with kinks (torch tensors), on segments
    (:mod:`deepalloc.allocators.qp_kinks`): a step may also block at a kink, and a
    coordinate at its kink whose smooth gradient leaves ``[-kappa, kappa]`` is released
    into the segment it moves to. Returns ``x, free, above, done, iterations``."""
    b = x.shape[0]
    x = x.clone()
    at_lower, at_upper, above = start_sets(problem, x)
    at_lower, at_upper, above = problem.keep_one_free_kinked(at_lower, at_upper, above, x)
    scale = problem.scale()
    done = torch.zeros(b, dtype=torch.bool, device=x.device)
    running = torch.arange(b, device=x.device)
    steps = 0
    while steps < max_iter and len(running):
        steps += 1
        sub = problem.index(running)
        x_r, lo, up, ab = x[running], at_lower[running], at_upper[running], above[running]
        optimal, _ = kinked_primal_step(sub, x_r, lo, up, ab, tol * scale[running])
        x[running], at_lower[running], at_upper[running], above[running] = x_r, lo, up, ab
        done[running[optimal]] = True
        running = running[~optimal]
    return x, ~(at_lower | at_upper), above, done, steps
