"""The batched QP solver's active-set steps for problems with kinks: a separable cost
``sum_i kappa_i |x_i - kink_i|`` (``kappa >= 0``, ``lower <= kink <= upper``) added to
``1/2 x'Px - q'x`` (:mod:`deepalloc.allocators.qp`; the proportional trading cost of
:mod:`deepalloc.allocators.trading_costs`).

Segments. Each coordinate lives either below its kink, in ``[lower, kink]`` where the
cost is ``kappa (kink - x)`` (linear term ``q + kappa``), or above it, in
``[kink, upper]`` with linear term ``q - kappa``. With every coordinate's segment fixed
the problem is a plain box QP (:meth:`~deepalloc.allocators.qp_kkt.BoxQP.view`); the
steps below choose the segments as they choose the bound sets. Sets are those of the
segment view: ``at_lower`` (at the lower bound, below the kink), ``at_upper`` (at the
upper end of its segment: the upper bound when ``above``, else the kink) and ``above``.
A coordinate at its kink is always written ``at_upper & ~above`` (canonical), also when
the kink equals a bound.

Optimality, with ``g = P x - q + nu`` the smooth gradient: a coordinate below its kink
and free has ``g = kappa``, above it ``g = -kappa``; one at its kink has
``|g| <= kappa`` (the no-trade condition); at the lower bound ``g >= kappa``, at the
upper ``g <= -kappa``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from deepalloc.allocators.qp_backend import Array
from deepalloc.allocators.qp_kkt import (
    BoxQP,
    ReducedKKT,
    any_starved,
    group_sum,
    keep_one_free_kinked,
    matvec,
    ratio_test,
    spread,
)


class KinkedStep(NamedTuple):
    """One primal-dual step: the working-set solution, its factorisation, the next sets
    and which samples are done."""

    x: Array
    kkt: ReducedKKT
    at_lower: Array
    at_upper: Array
    above: Array
    done: Array


def next_sets(
    problem: BoxQP, u: Array, width: Array, x: Array, utility: Array
) -> tuple[Array, Array, Array]:
    """The sets where the Newton points ``u`` (batch, n) land: below ``lower - width``
    at the lower bound, within ``width`` of the kink at the kink, above
    ``upper + width`` at the upper bound, free in between (the pieces of the proximal
    map of ``kappa |x - kink|`` with step ``1 / P_ii``); then each group keeps a free
    coordinate (``utility = q - P x`` at the current point ``x``)."""
    xp, kink = problem.xp, problem.kink
    assert kink is not None
    below_lower = u < problem.lower - width
    above_upper = u > problem.upper + width
    at_kink = (u >= kink - width) & (u <= kink + width)
    # a segment of zero length (kink at a bound): its bound is the kink
    at_kink |= (below_lower & (problem.lower >= kink)) | (above_upper & (problem.upper <= kink))
    at_lower = below_lower & ~at_kink
    at_cap = above_upper & ~at_kink
    above = (u > kink + width) & ~at_kink
    at_upper = at_cap | at_kink
    if not any_starved(at_lower, at_upper, problem.groups):
        return at_lower, at_upper, above
    assert problem.kappa is not None
    t = xp.tensor
    fixed = xp.where(at_lower, problem.lower, xp.where(at_cap, problem.upper, x))
    fixed = xp.where(at_kink, kink, fixed)
    deficit = problem.totals - group_sum(fixed, problem.groups)
    lo, up, ab = keep_one_free_kinked(
        t(at_lower), t(at_upper), t(above), t(utility), t(problem.kappa), t(deficit),
        problem.groups,
    )  # fmt: skip
    return xp.asarray(lo), xp.asarray(up), xp.asarray(ab)


def kinked_pdas_step(
    problem: BoxQP,
    at_lower: Array,
    at_upper: Array,
    above: Array,
    inv_diag: Array,
    slack: Array,
    tol_scale: Array,
) -> KinkedStep:
    """Solve on the current segments and sets, then guess the next ones from the Newton
    points ``x - g / P_ii`` (:func:`next_sets`). Done: sets unchanged, the point within
    its segment up to ``slack`` and the segment gradient on the free coordinates
    (``g -+ kappa``) below ``tol_scale`` (batch, 1)."""
    xp, kappa = problem.xp, problem.kappa
    assert kappa is not None
    view = problem.view(above)
    x, nu, kkt = view.solve_working_set(at_lower, at_upper)
    p_x = matvec(problem.p, x)
    grad = p_x - problem.q + spread(nu, x.shape[1])
    new = next_sets(problem, x - grad * inv_diag, kappa * inv_diag, x, problem.q - p_x)
    same = (new[0] == at_lower) & (new[1] == at_upper) & (new[2] == above)
    inside = (x <= view.upper + slack) & (x >= view.lower - slack)
    segment_grad = xp.where(above, grad + kappa, grad - kappa)
    residual = xp.amax(abs(segment_grad * kkt.free))[:, None]
    done = (same & inside).all(-1) & (residual <= tol_scale)[:, 0]
    return KinkedStep(x, kkt, *new, done)


def start_sets(problem: BoxQP, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Canonical sets of a feasible point (torch tensors): exactly at a bound or kink."""
    kink = problem.kink
    assert kink is not None
    at_kink = x == kink
    at_lower = (x <= problem.lower) & ~at_kink
    at_cap = (x >= problem.upper) & ~at_kink
    above = (x > kink) & ~at_kink
    return at_lower, at_cap | at_kink, above


def kinked_primal_step(
    sub: BoxQP,
    x: torch.Tensor,
    at_lower: torch.Tensor,
    at_upper: torch.Tensor,
    above: torch.Tensor,
    tol_scale: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the primal active-set method on segments (torch tensors), updating
    ``x`` and the sets in place: move towards the working-set minimiser until a segment
    end blocks (that end joins the set), or at the minimiser release the worst wrong
    multiplier (a coordinate at its kink may leave into either segment). Returns
    ``(optimal, blocked)`` (batch,)."""
    kappa, kink = sub.kappa, sub.kink
    assert kappa is not None and kink is not None
    n = x.shape[1]
    view = sub.view(above)
    free = ~(at_lower | at_upper)
    target, nu, _ = view.solve_working_set(at_lower, at_upper)
    d = target - x
    step, block, blocked, to_lower = ratio_test(x, d, free, view.lower, view.upper, sub.groups)
    g = matvec(sub.p, target) - sub.q + spread(nu, n)
    at_kink = at_upper & ~above
    neg_inf = torch.full_like(g, -float("inf"))
    wrong_down = torch.where(at_lower, -(g - kappa), neg_inf)  # at the lower bound
    wrong_down = torch.where(at_upper & above, g + kappa, wrong_down)  # at the upper bound
    kink_down = torch.where(at_kink & (sub.lower < kink), g - kappa, neg_inf)
    kink_up = torch.where(at_kink & (kink < sub.upper), -(g + kappa), neg_inf)
    wrong = torch.maximum(torch.maximum(wrong_down, kink_down), kink_up)
    worst_value, worst = wrong.max(-1)
    optimal = ~blocked & (worst_value <= tol_scale)
    new_x = torch.where(blocked[:, None], x + step[:, None].clamp(max=1.0) * d, target)
    new_x = torch.clamp(new_x, view.lower, view.upper)
    rows = torch.nonzero(blocked).flatten()
    cols = block[rows]
    hits_lower = to_lower[rows, cols]
    end = torch.where(hits_lower, view.lower[rows, cols], view.upper[rows, cols])
    new_x[rows, cols] = end
    kink_hit = end == kink[rows, cols]
    at_lower[rows, cols] = hits_lower & ~kink_hit
    at_upper[rows, cols] = ~hits_lower | kink_hit
    above[rows, cols] = above[rows, cols] & ~kink_hit
    release = torch.nonzero(~blocked & ~optimal).flatten()
    cols = worst[release]
    goes_up = kink_up[release, cols] >= torch.maximum(
        wrong_down[release, cols], kink_down[release, cols]
    )
    above[release, cols] = torch.where(goes_up, True, above[release, cols])
    at_lower[release, cols] = False
    at_upper[release, cols] = False
    x.copy_(new_x)
    return optimal, blocked
