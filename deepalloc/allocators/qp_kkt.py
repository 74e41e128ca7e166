"""A batch of box-constrained QPs, the reduced KKT system of one active set, and
active-set bookkeeping, shared by the batched QP solver's two active-set methods
(:mod:`deepalloc.allocators.qp`, :mod:`deepalloc.allocators.qp_primal`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepalloc.errors import SolverError

CHOLESKY_RETRY_JITTER = 1e-12
"""On a failed Cholesky factorisation of the reduced KKT matrix (``P`` only positive
semi-definite on the free set, or rounding), the factorisation is retried once with this
multiple of the mean diagonal of ``P`` added: about 1e4 machine epsilons, enough to
restore definiteness lost to rounding, far below any regularisation a user would notice."""


def group_matrix(groups: int, n: int, like: torch.Tensor) -> torch.Tensor:
    """A (groups, n) 0/1 matrix: row g marks the coordinates of group g."""
    m = n // groups
    return torch.repeat_interleave(
        torch.eye(groups, dtype=like.dtype, device=like.device), m, dim=1
    )


class ReducedKKT:
    """The reduced KKT system of one active set, factorised once."""

    def __init__(self, p: torch.Tensor, free: torch.Tensor, a_mat: torch.Tensor):
        fmask = free.to(p.dtype)
        m = p.masked_fill(~(free[:, :, None] & free[:, None, :]), 0.0)
        m.diagonal(dim1=-2, dim2=-1).add_(1.0 - fmask)
        chol, info = torch.linalg.cholesky_ex(m)
        if bool((info > 0).any()):
            scale = torch.diagonal(p, dim1=-2, dim2=-1).mean(-1)
            m.diagonal(dim1=-2, dim2=-1).add_(CHOLESKY_RETRY_JITTER * scale[:, None])
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

    def merge(self, idx: torch.Tensor, other: ReducedKKT) -> None:
        """Overwrite the samples ``idx`` with the factorisation ``other`` (of those samples)."""
        for name in ("chol", "fmask", "a_free", "y", "schur"):
            getattr(self, name).index_copy_(0, idx, getattr(other, name))

    def solve(self, rhs: torch.Tensor, budget: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Solve ``[P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget]``; x is 0 off the free set."""
        z = torch.cholesky_solve((rhs * self.fmask)[:, :, None], self.chol)  # (b, n, 1)
        nu = torch.linalg.solve(self.schur, self.a_free @ z - budget[:, :, None])
        x = (z - self.y @ nu).squeeze(-1) * self.fmask
        return x, nu.squeeze(-1)


def matvec(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched ``P v``: (batch, n, n) x (batch, n) -> (batch, n)."""
    return torch.bmm(p, v.unsqueeze(-1)).squeeze(-1)


def keep_one_free(
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
class BoxQP:
    """A batch of QPs ``min 1/2 x'Px - q'x`` with group budgets and bounds (or a subset).

    Shapes: ``p`` (batch, n, n), ``q``, ``lower``, ``upper`` (batch, n), ``totals``
    (batch, groups).
    """

    p: torch.Tensor
    q: torch.Tensor
    totals: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    groups: int

    def index(self, idx: torch.Tensor) -> BoxQP:
        """The samples ``idx``."""
        return BoxQP(
            self.p[idx],
            self.q[idx],
            self.totals[idx],
            self.lower[idx],
            self.upper[idx],
            self.groups,
        )

    def scale(self) -> torch.Tensor:
        """Scale of each problem's KKT residual, (batch,): ``|P_ij| <= max_k P_kk`` for
        PSD ``P``, so the diagonal gives the scale of ``P``."""
        return 1.0 + self.q.abs().amax(-1) + torch.diagonal(self.p, dim1=-2, dim2=-1).amax(-1)

    def solve_working_set(
        self, at_lower: torch.Tensor, at_upper: torch.Tensor, a_mat: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, ReducedKKT]:
        """Minimiser with the marked coordinates held at their bounds and the budgets
        met: ``x`` (batch, n), budget multipliers ``nu`` (batch, groups) and the
        factorisation used."""
        fixed = torch.where(
            at_lower, self.lower, torch.where(at_upper, self.upper, torch.zeros_like(self.q))
        )
        kkt = ReducedKKT(self.p, ~(at_lower | at_upper), a_mat)
        x_free, nu = kkt.solve(self.q - matvec(self.p, fixed), self.totals - fixed @ a_mat.T)
        return fixed + x_free, nu, kkt
