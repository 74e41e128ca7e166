"""A batch of box-constrained QPs, the reduced KKT system of one active set, and
active-set bookkeeping, shared by the batched QP solver's two active-set methods
(:mod:`deepalloc.allocators.qp_solver`, :mod:`deepalloc.allocators.qp_primal`) and
its backward pass.

Arrays are NumPy arrays or torch tensors (:mod:`deepalloc.allocators.qp_backend`);
each object works with the backend of the arrays it holds. Budget groups are
contiguous blocks of ``m = n / groups`` coordinates, so group sums and the spreading of
one value per group over its coordinates are reshapes, not products with a
(groups, n) matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch

from deepalloc.allocators.qp_backend import Array, Ops, TorchOps, ops_for
from deepalloc.errors import SolverError

CHOLESKY_RETRY_JITTER = 1e-12
"""On a failed Cholesky factorisation of the reduced KKT matrix (``P`` only positive
semi-definite on the free set, or rounding), the factorisation is retried once with this
multiple of the mean diagonal of ``P`` added: about 1e4 machine epsilons, enough to
restore definiteness lost to rounding, far below any regularisation a user would notice."""


def group_sum(x: Array, groups: int) -> Array:
    """Sum of each budget group: (batch, n) -> (batch, groups)."""
    return x.reshape(x.shape[0], groups, -1).sum(-1)


def spread(values: Array, n: int) -> Array:
    """One value per group (batch, groups) -> every coordinate of its group (batch, n).

    With one group the (batch, 1) input is returned as is: it broadcasts.
    """
    groups = values.shape[1]
    return values if groups == 1 else ops_for(values).repeat(values, n // groups)


def matvec(p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Batched ``P v`` for symmetric ``P``: (batch, n, n) x (batch, n) -> (batch, n).

    Computed as the row vector ``v' P`` (equal for symmetric ``P``): on the CPU a batched
    product with one row on the left runs several times faster than one with one
    column on the right (0.03 against 0.16 ms at 32 x 50).
    """
    return ops_for(v).row_times(v, p)


class RatioTest(NamedTuple):
    """Where a primal active-set step along ``d`` stops (:func:`ratio_test`)."""

    step: torch.Tensor
    block: torch.Tensor
    blocked: torch.Tensor
    to_lower: torch.Tensor


def ratio_test(
    x: torch.Tensor,
    d: torch.Tensor,
    free: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
) -> RatioTest:
    """The ratio test of a primal active-set step from ``x`` along ``d`` (all (batch, n)):
    over the free coordinates that move towards ``lower`` or ``upper``, the largest step
    ``step`` (batch,) before the first, ``block`` (batch,), reaches it, and whether it
    blocks before the full step (``blocked``), and which coordinates move down
    (``to_lower``). The last free coordinate of a group cannot move (its budget holds
    it), so it never blocks."""
    n = x.shape[1]
    movable = free & (spread(group_sum(free.to(x.dtype), groups), n) > 1)
    to_lower, to_upper = movable & (d < 0), movable & (d > 0)
    inf = torch.full_like(d, float("inf"))
    ratio = torch.where(to_lower, (lower - x) / d, inf)
    ratio = torch.where(to_upper, (upper - x) / d, ratio).clamp_min(0.0)
    step, block = ratio.min(-1)
    return RatioTest(step, block, step < 1, to_lower)


def rows_times(v: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Batched ``S v`` for any ``S``, for k vectors at once: (batch, k, n) -> (batch, k, n).

    Row ``j`` of the result is ``(S v_j)'``, computed as ``v_j' S'`` (see :func:`matvec`).
    """
    return torch.bmm(v, s.transpose(1, 2))


class ReducedKKT:
    """The reduced KKT system of one active set, factorised once, in compact form.

    The free coordinates of each sample are gathered into the first ``k`` slots of a
    (batch, k) layout, ``k`` the largest free count in the batch (shorter samples are
    padded with identity rows), so the Cholesky factorisation of ``P_FF`` costs
    ``k^3 / 3`` per sample rather than ``n^3 / 3``: long-only mean-variance solutions
    have few free assets (at most about 20 in ``bench_allocators``' problems from 10 to
    500 assets). The budget rows are handled by the (groups x groups) Schur complement
    ``A_F P_FF^-1 A_F'``, positive definite because every group keeps a free coordinate
    (:func:`keep_one_free`).

    Attributes
    ----------
    free
        Free coordinates, (batch, n) bool.
    flat
        Flat indices into (batch, n) arrays of each compact slot, (batch, k); padded
        slots point at bound coordinates and carry zeros. When half the coordinates or
        more are free, ``k = n`` and every coordinate keeps its place (no gather).
    valid
        1 for a real slot, 0 for padding, (batch, k).
    chol
        Cholesky factors of the padded ``P_FF``, (batch, k, k).
    cols
        ``A_F'`` in compact form, (batch, k, groups).
    y
        ``P_FF^-1 A_F'``, (batch, k, groups).
    schur
        ``A_F y``, (batch, groups, groups).
    """

    def __init__(self, free: Array, flat: Array, valid: Array, chol: Array, cols: Array, y: Array):
        self.xp = ops_for(chol)
        self.free, self.flat, self.valid = free, flat, valid
        self.chol, self.cols, self.y = chol, cols, y
        self.schur = (cols[:, :, :, None] * y[:, :, None, :]).sum(1)  # (b, g, g)

    @classmethod
    def factor(
        cls, p: Array, free: Array, groups: int, rhs: Array | None = None
    ) -> tuple[ReducedKKT, Array | None]:
        """Factorise ``P`` on the free set ``free`` (batch, n); with ``rhs`` (batch, n),
        also return ``P_FF^-1 rhs_F`` in compact form (batch, k), solved with ``y``."""
        xp = ops_for(p)
        b, n = free.shape
        counts = free.sum(-1)
        k = int(counts.max())
        base = xp.arange(b, p)[:, None] * n
        if 2 * k < n:  # compact: gather the free coordinates into the first k slots
            slot = xp.free_first(free)[:, :k]
            valid_b = xp.arange(k, p)[None, :] < counts[:, None]
            p_ff = xp.take(p, (base * n + slot * n)[:, :, None] + slot[:, None, :])
        else:  # most are free: keep every coordinate in its place, bound ones as padding
            k, slot, valid_b, p_ff = n, xp.arange(n, p)[None, :], free, p
        valid = xp.to_float(valid_b, p)
        flat = base + slot
        m = xp.where(valid_b[:, :, None] & valid_b[:, None, :], p_ff, xp.eye(k, p))
        chol = _cholesky(xp, m, p_ff)
        if groups == 1:
            cols = valid[:, :, None]
        else:  # column g of A_F': the free coordinates of group g
            group = slot // (n // groups)
            cols = xp.to_float(group[:, :, None] == xp.arange(groups, p)[None, None, :], p)
            cols = cols * valid[:, :, None]
        if rhs is not None:
            cols_rhs = xp.concat([cols, (xp.take(rhs, flat) * valid)[:, :, None]], -1)
            sol = xp.cho_solve(chol, cols_rhs)
        else:
            sol = xp.cho_solve(chol, cols)
        kkt = cls(free, flat, valid, chol, cols, sol[:, :, :groups])
        return kkt, (sol[:, :, groups] if rhs is not None else None)

    @property
    def groups(self) -> int:
        """Number of budget groups."""
        return int(self.y.shape[-1])

    def scatter(self, values: Array) -> Array:
        """Compact values (batch, k) -> (batch, n), zero off the free set."""
        return self.xp.scatter_flat(values, self.flat, self.free.shape)

    def finish(self, z: Array, budget: Array) -> tuple[Array, Array]:
        """From compact ``z = P_FF^-1 rhs_F``, the solution of
        ``[P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget]``: ``x`` (batch, n; 0 off the
        free set) and ``nu`` (batch, groups)."""
        groups = self.y.shape[-1]
        if groups == 1:
            y, schur = self.y[:, :, 0], self.schur[:, 0]
            nu = (z.sum(-1)[:, None] - budget) / schur
            x = z - y * nu
            # one refinement step on the budget rows, in the KKT metric (it keeps the
            # stationarity rows): the budget then holds to the rounding of one sum, and
            # a group with one free coordinate gets exactly its budget's remainder
            x = x + y * ((budget - x.sum(-1)[:, None]) / schur)
            return self.scatter(x), nu
        resid = (self.cols * z[:, :, None]).sum(1) - budget
        nu = self.xp.solve(self.schur, resid[:, :, None])
        return self.scatter(z - (self.y * nu[:, None, :, 0]).sum(-1)), nu[:, :, 0]

    def solve(self, rhs: Array, budget: Array) -> tuple[Array, Array]:
        """Solve ``[P_FF A_F'; A_F 0] [x; nu] = [rhs_F; budget]``; x is 0 off the free set."""
        z = self.xp.take(rhs, self.flat) * self.valid
        z = self.xp.cho_solve(self.chol, z[:, :, None])[:, :, 0]
        return self.finish(z, budget)

    def to_torch(self) -> ReducedKKT:
        """The same factorisation as torch tensors (views of NumPy arrays)."""
        t = self.xp.tensor
        return ReducedKKT(
            t(self.free), t(self.flat), t(self.valid), t(self.chol), t(self.cols), t(self.y)
        )


def _cholesky(xp: Ops, m: Array, p: Array) -> Array:
    """Cholesky factors of ``m``, retried once with :data:`CHOLESKY_RETRY_JITTER` times
    the mean diagonal of ``p``."""
    chol, info = xp.cholesky(m)
    if bool(info.any()):
        scale = xp.diagonal(p).mean(-1)
        xp.add_diagonal_(m, CHOLESKY_RETRY_JITTER * scale[:, None])
        chol, info = xp.cholesky(m)
        if bool(info.any()):
            raise singular_error([int(i) for i in xp.nonzero(info)])
    return chol


def singular_error(samples: list[int]) -> SolverError:
    """The error for samples whose ``P`` is singular on their free coordinates."""
    return SolverError(
        f"QP: expected a positive definite P on the free assets, got a singular system "
        f"for samples {samples}",
        samples,
    )


def keep_one_free(
    at_lower: torch.Tensor,
    at_upper: torch.Tensor,
    utility: torch.Tensor,
    deficit: torch.Tensor,
    groups: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep at least one free coordinate in every budget group (torch tensors).

    A group whose coordinates all sit at bounds leaves its budget multiplier undefined,
    so one coordinate is released: the marginal one. With ``utility = q - P x``, a group
    short of its budget (``deficit > 0``) releases its most useful coordinate at the
    lower bound; otherwise the least useful one at the upper bound (if any), so that the
    multiplier lands between the utilities of the two bound sets.
    """
    b = utility.shape[0]
    shape = (b, groups, -1)
    lo, hi, u = at_lower.reshape(shape), at_upper.reshape(shape), utility.reshape(shape)
    starved = (lo | hi).all(-1)  # (b, g)
    inf = torch.tensor(float("inf"), dtype=u.dtype, device=u.device)
    best_lower = torch.where(lo, u, -inf).argmax(-1)
    worst_upper = torch.where(hi, u, inf).argmin(-1)
    use_lower = (deficit > 0) | ~hi.any(-1)
    pick = torch.where(use_lower, best_lower, worst_upper)
    release = torch.zeros_like(lo).scatter(-1, pick[..., None], True) & starved[..., None]
    release = release.reshape(b, -1)
    return at_lower & ~release, at_upper & ~release


def keep_one_free_kinked(
    at_lower: torch.Tensor,
    at_upper: torch.Tensor,
    above: torch.Tensor,
    utility: torch.Tensor,
    kappa: torch.Tensor,
    deficit: torch.Tensor,
    groups: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`keep_one_free` for problems with kinks (torch tensors), on segment sets.

    Coordinates at a kink are those at the upper end of their segment below it
    (``at_upper & ~above``): they can move either way. A group short of its budget
    releases, among the coordinates that can rise (at the lower bound, marginal utility
    ``utility + kappa``, into the segment below; at the kink, ``utility - kappa``, into
    the segment above), the most useful; otherwise, among those that can fall (at the
    upper bound, ``utility - kappa``; at the kink, ``utility + kappa``, into the segment
    below), the least useful. ``utility = q - P x``. Returns new (at_lower, at_upper,
    above).
    """
    b = utility.shape[0]
    shape = (b, groups, -1)
    lo, hi, up_seg = at_lower.reshape(shape), at_upper.reshape(shape), above.reshape(shape)
    u, k = utility.reshape(shape), kappa.reshape(shape)
    starved = (lo | hi).all(-1)
    at_kink = hi & ~up_seg
    at_cap = hi & up_seg
    inf = torch.tensor(float("inf"), dtype=u.dtype, device=u.device)
    rise = torch.where(lo, u + k, torch.where(at_kink, u - k, -inf))
    fall = torch.where(at_cap, u - k, torch.where(at_kink, u + k, inf))
    use_rise = ((deficit > 0) & (rise > -inf).any(-1)) | ~(fall < inf).any(-1)
    pick = torch.where(use_rise, rise.argmax(-1), fall.argmin(-1))[..., None]
    release = torch.zeros_like(lo).scatter(-1, pick, True) & starved[..., None]
    # a kink coordinate released upwards moves to the segment above
    to_above = release & at_kink & use_rise[..., None]
    release, to_above = release.reshape(b, -1), to_above.reshape(b, -1)
    return at_lower & ~release, at_upper & ~release, above | to_above


def any_starved(at_lower: Array, at_upper: Array, groups: int) -> bool:
    """Whether some budget group has no free coordinate (one synchronisation)."""
    b = at_lower.shape[0]
    return bool((at_lower | at_upper).reshape(b, groups, -1).all(-1).any())


def release_starved(
    xp: Ops, at_lower: Array, at_upper: Array, utility: Array, deficit: Array, groups: int
) -> tuple[Array, Array]:
    """:func:`keep_one_free` on arrays of either backend (converted to torch and back)."""
    lo, up = keep_one_free(
        xp.tensor(at_lower), xp.tensor(at_upper), xp.tensor(utility), xp.tensor(deficit), groups
    )
    return xp.asarray(lo), xp.asarray(up)


@dataclass
class BoxQP:
    """A batch of QPs ``min 1/2 x'Px - q'x`` with group budgets and bounds (or a subset).

    Shapes: ``p`` (batch, n, n), ``q``, ``lower``, ``upper`` (batch, n), ``totals``
    (batch, groups); NumPy arrays or torch tensors, all of one kind.
    """

    p: Array
    q: Array
    totals: Array
    lower: Array
    upper: Array
    groups: int
    kink: Array | None = None
    kappa: Array | None = None
    xp: Ops = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.xp = ops_for(self.q)

    _NAMES = ("p", "q", "totals", "lower", "upper", "groups", "kink", "kappa")

    def fields(self) -> dict[str, Array]:
        """The constructor's arguments."""
        return {k: getattr(self, k) for k in self._NAMES}

    def index(self, idx: Array) -> BoxQP:
        """The samples ``idx``."""
        return BoxQP(
            **{k: (v if k == "groups" or v is None else v[idx]) for k, v in self.fields().items()}
        )

    def to_torch(self) -> BoxQP:
        """The same problems as torch tensors."""
        xp = self.xp
        if xp is TorchOps:
            return self
        return BoxQP(
            **{
                k: (v if k == "groups" or v is None else xp.tensor(v))
                for k, v in self.fields().items()
            }
        )

    def view(self, above: Array) -> BoxQP:
        """For a problem with kinks, the plain box QP on the current segments: a
        coordinate below its kink lives in ``[lower, kink]`` with linear term
        ``q + kappa``, one above it in ``[kink, upper]`` with ``q - kappa``."""
        xp = self.xp
        assert self.kink is not None and self.kappa is not None
        return BoxQP(
            self.p,
            xp.where(above, self.q - self.kappa, self.q + self.kappa),
            self.totals,
            xp.where(above, self.kink, self.lower),
            xp.where(above, self.upper, self.kink),
            self.groups,
        )

    def scale(self) -> Array:
        """Scale of each problem's KKT residual, (batch,): ``|P_ij| <= max_k P_kk`` for
        PSD ``P``, so the diagonal gives the scale of ``P``."""
        xp = self.xp
        return 1.0 + xp.amax(abs(self.q)) + xp.amax(xp.diagonal(self.p))

    def keep_one_free(self, at_lower: Array, at_upper: Array, x: Array) -> tuple[Array, Array]:
        """:func:`keep_one_free` with the utilities and deficits at ``x``, computed only
        when some group has no free coordinate."""
        if not any_starved(at_lower, at_upper, self.groups):
            return at_lower, at_upper
        utility = self.q - matvec(self.p, x)
        deficit = self.totals - group_sum(x, self.groups)
        return release_starved(self.xp, at_lower, at_upper, utility, deficit, self.groups)

    def keep_one_free_kinked(
        self, at_lower: Array, at_upper: Array, above: Array, x: Array
    ) -> tuple[Array, Array, Array]:
        """:func:`keep_one_free_kinked` at ``x``, computed only when some group has no
        free coordinate (the sets are those of segments, :meth:`view`)."""
        if not any_starved(at_lower, at_upper, self.groups):
            return at_lower, at_upper, above
        assert self.kappa is not None
        xp, t = self.xp, self.xp.tensor
        utility = self.q - matvec(self.p, x)
        deficit = self.totals - group_sum(x, self.groups)
        lo, up, ab = keep_one_free_kinked(
            t(at_lower), t(at_upper), t(above), t(utility), t(self.kappa), t(deficit), self.groups
        )
        return xp.asarray(lo), xp.asarray(up), xp.asarray(ab)

    def solve_working_set(
        self, at_lower: Array, at_upper: Array
    ) -> tuple[Array, Array, ReducedKKT]:
        """Minimiser with the marked coordinates held at their bounds and the budgets
        met: ``x`` (batch, n), budget multipliers ``nu`` (batch, groups) and the
        factorisation used."""
        xp = self.xp
        fixed = xp.where(at_lower, self.lower, xp.where(at_upper, self.upper, 0.0))
        kkt, z = ReducedKKT.factor(
            self.p, ~(at_lower | at_upper), self.groups, self.q - matvec(self.p, fixed)
        )
        assert z is not None
        x_free, nu = kkt.finish(z, self.totals - group_sum(fixed, self.groups))
        return fixed + x_free, nu, kkt
