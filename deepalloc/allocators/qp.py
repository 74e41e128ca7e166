"""A batched, differentiable solver for box-constrained QPs with budget constraints.

Solves, for every sample of a batch at once (no Python loop over samples)::

    minimise    1/2 x' P x - q' x
    subject to  sum_{i in group g} x_i = total_g     for each group g
                lower <= x <= upper

with ``x`` of size ``n_groups * group_size`` (groups are contiguous blocks of equal size).
The long-only Markowitz problem is one group; the long-short problem with a gross
leverage cap uses two (long and short legs).

Forward: a few accelerated projected-gradient (FISTA) steps with the exact projection
onto each group's box-constrained simplex guess the active set; primal-dual active-set
iterations then solve the KKT system exactly, each a batched Cholesky solve of ``P``
restricted to the free coordinates (bound coordinates are replaced by identity rows, so
every sample keeps a fixed-size system) with the budget rows handled by a small Schur
complement. The result is checked on its KKT residual; a sample that does not converge
raises :class:`~deepalloc.errors.SolverError` naming it.

Backward: implicit differentiation of the KKT conditions on the final active set,
reusing the last factorisation: ``dL/dq = a`` and ``dL/dP = -(a x' + x a') / 2`` where
``a`` solves the KKT system with right-hand side ``dL/dx`` on the free coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from deepalloc.errors import SolverError
from deepalloc.functional.simplex import project_box_simplex


@dataclass(frozen=True)
class QPSettings:
    """Solver settings.

    Attributes
    ----------
    warm_steps
        FISTA steps used to guess the active set.
    max_iter
        Primal-dual active-set iterations before giving up.
    tol
        Tolerance on the scaled KKT residual (never below 50 machine epsilons of the
        inputs' dtype).
    restart_every
        Active-set iterations after which samples still running restart from a longer
        projected-gradient run (a guard against cycling).
    """

    warm_steps: int = 25
    max_iter: int = 100
    tol: float = 1e-9
    restart_every: int = 8


def _project(
    z: torch.Tensor, totals: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, groups: int
) -> torch.Tensor:
    b, n = z.shape
    m = n // groups
    flat = project_box_simplex(
        z.reshape(b * groups, m),
        totals.reshape(b * groups),
        lower.reshape(b * groups, m),
        upper.reshape(b * groups, m),
    )
    return flat.reshape(b, n)


def _group_matrix(groups: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """A (groups, n) 0/1 matrix: row g marks the coordinates of group g."""
    m = n // groups
    return torch.repeat_interleave(
        torch.eye(groups, dtype=like.dtype, device=like.device), m, dim=1
    )


class _KKT:
    """The reduced KKT system of one active set, factorised once."""

    def __init__(self, p: torch.Tensor, free: torch.Tensor, a_mat: torch.Tensor):
        fmask = free.to(p.dtype)
        m = p.masked_fill(~(free[:, :, None] & free[:, None, :]), 0.0)
        m.diagonal(dim1=-2, dim2=-1).add_(1.0 - fmask)
        chol, info = torch.linalg.cholesky_ex(m)
        if bool((info > 0).any()):
            scale = torch.diagonal(p, dim1=-2, dim2=-1).abs().mean(-1)
            m.diagonal(dim1=-2, dim2=-1).add_(1e-12 * scale[:, None])
            chol, info = torch.linalg.cholesky_ex(m)
            if bool((info > 0).any()):
                bad = torch.nonzero(info > 0).flatten().tolist()
                raise SolverError(
                    f"QP: expected a positive definite P on the free assets, got a singular "
                    f"system for samples {bad}",
                    bad,
                )
        self.chol = chol
        self.fmask = fmask
        a_free = a_mat[None] * fmask[:, None, :]  # (b, g, n)
        self.a_free = a_free
        self.y = torch.cholesky_solve(a_free.transpose(1, 2), chol)  # (b, n, g)
        schur = a_free @ self.y  # (b, g, g)
        empty = torch.diagonal(schur, dim1=-2, dim2=-1) <= 0
        self.schur = schur + torch.diag_embed(empty.to(p.dtype))

    def solve(self, rhs: torch.Tensor, budget: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Solve ``[P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget]``; x is 0 off the free set."""
        z = torch.cholesky_solve((rhs * self.fmask)[:, :, None], self.chol)  # (b, n, 1)
        nu = torch.linalg.solve(self.schur, self.a_free @ z - budget[:, :, None])
        x = (z - self.y @ nu).squeeze(-1) * self.fmask
        return x, nu.squeeze(-1)


def _matvec(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched ``P v``: (batch, n, n) x (batch, n) -> (batch, n)."""
    return torch.bmm(p, v.unsqueeze(-1)).squeeze(-1)


def _largest_eigenvalue(p: torch.Tensor, steps: int = 12) -> torch.Tensor:
    """Upper estimate of the largest eigenvalue of symmetric PSD matrices (batch, n, n)."""
    gershgorin = p.abs().sum(-1).amax(-1)
    v = torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    for _ in range(steps):
        v = _matvec(p, v)
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
    rayleigh = (v * _matvec(p, v)).sum(-1)
    tiny = torch.finfo(p.dtype).tiny
    return torch.minimum(1.3 * rayleigh, gershgorin).clamp_min(tiny)


def _keep_one_free(
    at_lower: torch.Tensor,
    at_upper: torch.Tensor,
    utility: torch.Tensor,
    deficit: torch.Tensor,
    groups: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep at least one free coordinate in every budget group.

    A group whose coordinates all sit at bounds leaves its budget multiplier undefined,
    so one coordinate is released: the marginal one. With ``utility = q - P x``, a group
    short of its budget (``deficit > 0``) releases its most useful coordinate at the
    lower bound; otherwise the least useful one at the upper bound (if any), so that the
    multiplier lands between the utilities of the two bound sets.
    """
    b = utility.shape[0]
    free = ~(at_lower | at_upper)
    starved = free.reshape(b, groups, -1).sum(-1) == 0  # (b, g)
    if not bool(starved.any()):
        return at_lower, at_upper
    shape = (b, groups, -1)
    lo, hi, u = at_lower.reshape(shape), at_upper.reshape(shape), utility.reshape(shape)
    inf = torch.tensor(float("inf"), dtype=u.dtype, device=u.device)
    best_lower = torch.where(lo, u, -inf).argmax(-1)
    worst_upper = torch.where(hi, u, inf).argmin(-1)
    use_lower = (deficit > 0) | ~hi.any(-1)
    pick = torch.where(use_lower, best_lower, worst_upper)
    release = torch.zeros_like(lo).scatter(-1, pick[..., None], True) & starved[..., None]
    release = release.reshape(b, -1)
    return at_lower & ~release, at_upper & ~release


def _solve(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
    settings: QPSettings,
) -> tuple[torch.Tensor, torch.Tensor, _KKT, int]:
    n = q.shape[-1]
    a_mat = _group_matrix(groups, n, q)
    # warm start: FISTA on the feasible set, step 1 / (largest eigenvalue of P, estimated
    # by power iteration and inflated; never above the Gershgorin bound)
    lipschitz = _largest_eigenvalue(p)[:, None]
    x = _project(q / lipschitz, totals, lower, upper, groups)

    def fista(x: torch.Tensor, steps: int) -> torch.Tensor:
        v, t = x, 1.0
        for _ in range(steps):
            x_new = _project(v - (_matvec(p, v) - q) / lipschitz, totals, lower, upper, groups)
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
        return x

    def bound_sets(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        span = (upper - lower).clamp_min(0)
        near = max(1e-12, 4 * torch.finfo(x.dtype).eps) * (1 + span)
        at_lower = x <= lower + near
        at_upper = (x >= upper - near) & ~at_lower
        return _keep_one_free(at_lower, at_upper, q - _matvec(p, x), totals - x @ a_mat.T, groups)

    x_pg = fista(x, settings.warm_steps)
    at_lower, at_upper = bound_sets(x_pg)
    diag = torch.diagonal(p, dim1=-2, dim2=-1).clamp_min(torch.finfo(p.dtype).tiny)
    scale = 1.0 + q.abs().amax(-1) + p.abs().amax((-1, -2))
    eps = torch.finfo(q.dtype).eps
    slack = max(1e-10, 10 * eps) * (1.0 + (upper - lower).abs())
    tol = max(settings.tol, 50 * eps)
    for iteration in range(1, settings.max_iter + 1):
        free = ~(at_lower | at_upper)
        fixed = torch.where(at_lower, lower, torch.where(at_upper, upper, torch.zeros_like(q)))
        kkt = _KKT(p, free, a_mat)
        rhs = q - _matvec(p, fixed)
        budget = totals - fixed @ a_mat.T
        x_free, nu = kkt.solve(rhs, budget)
        x = fixed + x_free
        grad = _matvec(p, x) - q + nu @ a_mat
        newton = x - grad / diag
        new_lower = newton < lower
        new_upper = (newton > upper) & ~new_lower
        new_fixed = torch.where(new_lower, lower, torch.where(new_upper, upper, x))
        new_lower, new_upper = _keep_one_free(
            new_lower, new_upper, nu @ a_mat - grad, totals - new_fixed @ a_mat.T, groups
        )
        stationarity = (grad * free).abs().amax(-1)
        feasible = ((x - upper <= slack) & (lower - x <= slack)).all(-1)
        unchanged = (new_lower == at_lower).all(-1) & (new_upper == at_upper).all(-1)
        done = unchanged & feasible & (stationarity <= tol * scale)
        if bool(done.all()):
            return x, free, kkt, iteration
        at_lower, at_upper = new_lower, new_upper
        if iteration % settings.restart_every == 0:
            # active-set iterations can cycle on ill-conditioned problems: restart the
            # samples still running from a longer projected-gradient run
            x_pg = fista(x_pg, 4 * max(settings.warm_steps, 10))
            restart_lower, restart_upper = bound_sets(x_pg)
            running = ~done[:, None]
            at_lower = torch.where(running, restart_lower, at_lower)
            at_upper = torch.where(running, restart_upper, at_upper)
    bad = torch.nonzero(~done).flatten().tolist()
    raise SolverError(
        f"QP: expected the active-set iterations to converge within {settings.max_iter} "
        f"iterations, got {len(bad)} unconverged samples {bad[:10]}",
        bad,
    )


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
        x, _, kkt, iterations = _solve(p, q, totals, lower, upper, groups, settings)
        ctx.kkt = kkt
        ctx.iterations = iterations
        ctx.save_for_backward(x)
        return x

    @staticmethod
    def backward(ctx: Any, grad_x: torch.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        kkt: _KKT = ctx.kkt
        zero_budget = torch.zeros(x.shape[0], kkt.a_free.shape[1], dtype=x.dtype, device=x.device)
        a, _ = kkt.solve(grad_x, zero_budget)
        grad_p = -0.5 * (a[:, :, None] * x[:, None, :] + x[:, :, None] * a[:, None, :])
        return grad_p, a, None, None, None, None, None


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
        Budget of each group, shape (batch, groups).
    lower, upper
        Bounds, shape (batch, n).
    groups
        Number of contiguous, equal-size budget groups.
    settings
        Solver settings.

    Returns
    -------
    torch.Tensor
        Solutions, shape (batch, n).
    """
    if q.shape[-1] % groups:
        raise ValueError(f"groups: expected a divisor of n = {q.shape[-1]}, got {groups}")
    out: torch.Tensor = BoxQPFunction.apply(
        p, q, totals, lower, upper, groups, settings or QPSettings()
    )
    return out
