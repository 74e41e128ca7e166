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
from deepalloc.functional.simplex import box_simplex_threshold


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
        Primal-dual active-set iterations before giving up.
    tol
        Tolerance on the scaled KKT residual (never below 50 machine epsilons of the
        inputs' dtype).
    restart_every
        Active-set iterations after which samples still running restart from a longer
        projected-gradient run (a guard against cycling).
    """

    warm_steps: int = 10
    check_every: int = 4
    max_iter: int = 100
    tol: float = 1e-9
    restart_every: int = 8


def _project(
    z: torch.Tensor, totals: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, groups: int
) -> torch.Tensor:
    """Exact projection of every group onto its box-constrained simplex (no autograd)."""
    b, n = z.shape
    m = n // groups
    zg, lo, hi = (
        z.reshape(b * groups, m),
        lower.reshape(b * groups, m),
        upper.reshape(b * groups, m),
    )
    tau = box_simplex_threshold(zg, totals.reshape(b * groups), lo, hi)
    return torch.minimum(torch.maximum(zg - tau[:, None], lo), hi).reshape(b, n)


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
            scale = torch.diagonal(p, dim1=-2, dim2=-1).mean(-1)
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

    def merge(self, idx: torch.Tensor, other: _KKT) -> None:
        """Overwrite the samples ``idx`` with the factorisation ``other`` (of those samples)."""
        for name in ("chol", "fmask", "a_free", "y", "schur"):
            getattr(self, name).index_copy_(0, idx, getattr(other, name))

    def solve(self, rhs: torch.Tensor, budget: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Solve ``[P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget]``; x is 0 off the free set."""
        z = torch.cholesky_solve((rhs * self.fmask)[:, :, None], self.chol)  # (b, n, 1)
        nu = torch.linalg.solve(self.schur, self.a_free @ z - budget[:, :, None])
        x = (z - self.y @ nu).squeeze(-1) * self.fmask
        return x, nu.squeeze(-1)


def _matvec(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched ``P v``: (batch, n, n) x (batch, n) -> (batch, n)."""
    return torch.bmm(p, v.unsqueeze(-1)).squeeze(-1)


def _largest_eigenvalue(p: torch.Tensor, steps: int = 6) -> torch.Tensor:
    """Upper estimate of the largest eigenvalue of symmetric PSD matrices (batch, n, n).

    A few power iterations, inflated by 30%, and never above the trace (a bound for
    PSD matrices that costs no pass over P).
    """
    v = torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    for _ in range(steps):
        v = _matvec(p, v)
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
    rayleigh = (v * _matvec(p, v)).sum(-1)
    trace = torch.diagonal(p, dim1=-2, dim2=-1).sum(-1)
    return torch.minimum(1.3 * rayleigh, trace).clamp_min(torch.finfo(p.dtype).tiny)


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


@dataclass
class _Problem:
    """The data of a batch of QPs (or a subset of one)."""

    p: torch.Tensor
    q: torch.Tensor
    totals: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    groups: int
    lipschitz: torch.Tensor

    def index(self, idx: torch.Tensor) -> _Problem:
        return _Problem(
            self.p[idx],
            self.q[idx],
            self.totals[idx],
            self.lower[idx],
            self.upper[idx],
            self.groups,
            self.lipschitz[idx],
        )

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return _project(z, self.totals, self.lower, self.upper, self.groups)

    def fista(self, x: torch.Tensor, steps: int, check_every: int | None) -> torch.Tensor:
        """Accelerated projected-gradient steps from ``x``; with ``check_every``, stop once
        the pattern of coordinates at their bounds is the same at two checks."""
        v, t = x, 1.0
        pattern = self.pattern(x)
        for step in range(1, steps + 1):
            x_new = self.project(v - (_matvec(self.p, v) - self.q) / self.lipschitz)
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
            if check_every and step % check_every == 0:
                new_pattern = self.pattern(x)
                if bool((new_pattern == pattern).all()):
                    break
                pattern = new_pattern
        return x

    def pattern(self, x: torch.Tensor) -> torch.Tensor:
        """-1 at the upper bound, 1 at the lower bound, 0 free."""
        span = (self.upper - self.lower).clamp_min(0)
        near = max(1e-12, 4 * torch.finfo(x.dtype).eps) * (1 + span)
        return (x <= self.lower + near).to(torch.int8) - (x >= self.upper - near).to(torch.int8)

    def bound_sets(self, x: torch.Tensor, a_mat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pattern = self.pattern(x)
        return _keep_one_free(
            pattern == 1,
            pattern == -1,
            self.q - _matvec(self.p, x),
            self.totals - x @ a_mat.T,
            self.groups,
        )


def _solve(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
    settings: QPSettings,
) -> tuple[torch.Tensor, _KKT, int]:
    b, n = q.shape
    a_mat = _group_matrix(groups, n, q)
    # warm start: FISTA on the feasible set, step 1 / (largest eigenvalue of P, estimated
    # by power iteration and inflated; never above the trace)
    full = _Problem(p, q, totals, lower, upper, groups, _largest_eigenvalue(p)[:, None])
    x_pg = full.fista(full.project(q / full.lipschitz), settings.warm_steps, settings.check_every)
    at_lower, at_upper = full.bound_sets(x_pg, a_mat)
    eps = torch.finfo(q.dtype).eps
    tol = max(settings.tol, 50 * eps)
    x = torch.zeros_like(q)
    kkt_all: _KKT | None = None
    active = torch.arange(b, device=q.device)
    for iteration in range(1, settings.max_iter + 1):
        # primal-dual active-set step, on the samples still running only
        sub = full if len(active) == b else full.index(active)
        lo_set, up_set = at_lower[active], at_upper[active]
        free = ~(lo_set | up_set)
        fixed = torch.where(
            lo_set, sub.lower, torch.where(up_set, sub.upper, torch.zeros_like(sub.q))
        )
        kkt = _KKT(sub.p, free, a_mat)
        x_free, nu = kkt.solve(sub.q - _matvec(sub.p, fixed), sub.totals - fixed @ a_mat.T)
        x_sub = fixed + x_free
        grad = _matvec(sub.p, x_sub) - sub.q + nu @ a_mat
        diag = torch.diagonal(sub.p, dim1=-2, dim2=-1)
        newton = x_sub - grad / diag.clamp_min(torch.finfo(q.dtype).tiny)
        new_lower = newton < sub.lower
        new_upper = (newton > sub.upper) & ~new_lower
        new_fixed = torch.where(new_lower, sub.lower, torch.where(new_upper, sub.upper, x_sub))
        new_lower, new_upper = _keep_one_free(
            new_lower, new_upper, nu @ a_mat - grad, sub.totals - new_fixed @ a_mat.T, groups
        )
        # |P_ij| <= max_k P_kk for PSD P, so the diagonal gives the scale of P
        scale = 1.0 + sub.q.abs().amax(-1) + diag.amax(-1)
        slack = max(1e-10, 10 * eps) * (1.0 + (sub.upper - sub.lower).abs())
        feasible = ((x_sub - sub.upper <= slack) & (sub.lower - x_sub <= slack)).all(-1)
        unchanged = (new_lower == lo_set).all(-1) & (new_upper == up_set).all(-1)
        done = unchanged & feasible & ((grad * free).abs().amax(-1) <= tol * scale)
        x.index_copy_(0, active, x_sub)
        if kkt_all is None:
            kkt_all = kkt
        else:
            kkt_all.merge(active, kkt)
        at_lower.index_copy_(0, active, new_lower)
        at_upper.index_copy_(0, active, new_upper)
        active = active[~done]
        if len(active) == 0:
            return x, kkt_all, iteration
        if iteration % settings.restart_every == 0:
            # active-set iterations can cycle on ill-conditioned problems: restart the
            # samples still running from a longer projected-gradient run (longer each time)
            rest = full.index(active)
            steps = 50 * (iteration // settings.restart_every)
            x_rest = rest.fista(x_pg[active], steps, None)
            x_pg.index_copy_(0, active, x_rest)
            restart_lower, restart_upper = rest.bound_sets(x_rest, a_mat)
            at_lower.index_copy_(0, active, restart_lower)
            at_upper.index_copy_(0, active, restart_upper)
    bad = active.tolist()
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


def _adjoint(kkt: _KKT, grad_x: torch.Tensor) -> torch.Tensor:
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
        s_a, s_x = _matvec(s, a), _matvec(s, x)
        grad_s = None
        if ctx.needs_input_grad[1]:
            grad_s = (s_a[:, :, None] * x[:, None, :] + s_x[:, :, None] * a[:, None, :]).mul_(
                (-2 * gamma)[:, None, None]
            )
        grad_gamma = -2 * (s_a * s_x).sum(-1)
        grad_alpha = -2 * (a * x).sum(-1)
        return a, grad_s, grad_gamma, grad_alpha, None, None, None, None


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
