"""The batched QP solver's warm start: accelerated projected gradient (FISTA).

A few FISTA steps (Beck and Teboulle, "A fast iterative shrinkage-thresholding algorithm
for linear inverse problems", SIAM J. Imaging Sci. 2(1), 2009) on the feasible set,
with the exact projection onto each budget group's box-constrained simplex and the step
``1 / L`` from an estimate of the largest eigenvalue ``L`` of ``P``, guess which
coordinates sit at their bounds; the active-set iterations of
:mod:`deepalloc.allocators.qp` start from that guess.

Everything that depends only on the problem (the gradient step's matrix ``I - P / L``,
the projection's offsets and budgets, the thresholds that tell a bound) is computed
once per solve, so a FISTA step is one batched product, one projection and one
interpolation.
"""

from __future__ import annotations

from deepalloc.allocators.qp_backend import Array, finfo, ops_for
from deepalloc.allocators.qp_kkt import BoxQP

POWER_STEPS = 6
"""Power iterations estimating the largest eigenvalue of ``P`` for the FISTA step: the
estimate only sets a step size, and six steps put it within a few percent for the
spectra met here (the inflation below covers the rest)."""

POWER_INFLATION = 1.3
"""Factor on the power-iteration estimate, which approaches the largest eigenvalue from
below: a step ``1 / L`` with ``L`` under the true Lipschitz constant could diverge, 30%
over it only slows FISTA slightly. Never above the trace, itself an upper bound."""

BOUND_NEAR = 1e-12
"""A FISTA iterate within ``max(BOUND_NEAR, 4 eps) (1 + span)`` of a bound counts as at
that bound when guessing the active set (projections land on bounds up to rounding)."""


class GroupProjector:
    """Exact Euclidean projection of every budget group onto its box-constrained simplex
    ``{x : sum(x) = total, lower <= x <= upper}``, for fixed bounds and totals; with
    kinks, the proximal map of ``width_i |x_i - kink_i|`` on that set.

    The threshold ``tau`` with ``sum(x(tau)) = total`` is found exactly, where
    ``x_i(tau) = clip(z_i - tau, l_i, u_i)`` (with kinks:
    ``clip(kink_i + soft(z_i - tau - kink_i, width_i), l_i, u_i)``, ``soft`` the soft
    threshold, ``l_i <= kink_i <= u_i``). ``g(tau) = sum_i x_i(tau)`` is piecewise linear
    and non-increasing with breakpoints ``z_i - u_i`` (coordinate i starts moving, slope
    -1) and ``z_i - l_i`` (it stops, slope +1), and with kinks ``z_i - kink_i - width_i``
    (it stops at its kink) and ``z_i - kink_i + width_i`` (it moves on); the breakpoints
    are sorted once and ``g`` evaluated at all of them by cumulative sums, so the cost is
    O(n log n) per group with no iteration.

    Parameters
    ----------
    totals
        Budgets, (batch, groups); each between the sums of its group's bounds.
    lower, upper
        Bounds, (batch, n); arrays of either backend
        (:mod:`deepalloc.allocators.qp_backend`).
    groups
        Number of contiguous equal-size groups.
    kink, width
        Optional kinks (batch, n) within the bounds and their widths (batch, n), >= 0.
    """

    def __init__(
        self,
        totals: Array,
        lower: Array,
        upper: Array,
        groups: int,
        kink: Array | None = None,
        width: Array | None = None,
    ):
        xp = self.xp = ops_for(lower)
        b, n = lower.shape
        rows, m = b * groups, n // groups
        self.shape = (b, n)
        self.lower = lower.reshape(rows, m)
        self.upper = upper.reshape(rows, m)
        minus, plus = xp.zeros((rows, m), lower) - 1.0, xp.zeros((rows, m), lower) + 1.0
        if kink is None or width is None:
            self.kink = self.width = None
            self.offsets = xp.concat([self.upper, self.lower], 1)  # (rows, 2m)
            self.signs = xp.concat([minus, plus], 1)
        else:
            self.kink, self.width = kink.reshape(rows, m), width.reshape(rows, m)
            k, w = self.kink, self.width
            self.offsets = xp.concat([self.upper + w, k + w, k - w, self.lower - w], 1)
            self.signs = xp.concat([minus, plus, minus, plus], 1)
        self.points = self.offsets.shape[1]
        # g(tau) - sum(upper) must fall to totals - sum(upper) (<= 0)
        self.deficit = totals.reshape(rows, 1) - self.upper.sum(-1)[:, None]
        self.first = xp.arange(rows, lower) * self.points - 1  # flat index before each row
        self.zero = xp.zeros((rows, 1), lower)

    def __call__(self, z: Array) -> Array:
        """Project ``z`` (batch, n); returns (batch, n)."""
        xp = self.xp
        rows, m = self.lower.shape
        zg = z.reshape(rows, m)
        copies = self.points // m
        points, order = xp.sort_rows(xp.concat([zg] * copies, 1) - self.offsets)
        slope = xp.cumsum(xp.take(self.signs, order))
        # g at each sorted breakpoint, minus sum(upper): 0 at the first
        rise = xp.concat([self.zero, xp.cumsum(slope[:, :-1] * xp.diff(points))], 1)
        # the last breakpoint where g is still >= total (g at the first one, sum(upper),
        # always is); tau lies on the interval after it
        at = self.first + xp.clamp((rise >= self.deficit).sum(-1), None, self.points - 1)
        p_k, s_k, r_k = xp.take(points, at), xp.take(slope, at), xp.take(rise, at)
        # slopes are integers <= 0; where one is 0, g is flat at the total (the numerator
        # vanishes), so dividing by 1 there instead changes nothing
        tau = p_k + (self.deficit[:, 0] - r_k) / xp.clamp(s_k, None, -1.0)
        u = zg - tau[:, None]
        if self.kink is not None:
            d = u - self.kink
            zero = self.zero
            u = self.kink + xp.maximum(d - self.width, zero) + xp.minimum(d + self.width, zero)
        return xp.clip(u, self.lower, self.upper).reshape(self.shape)


def largest_eigenvalue(p: Array, steps: int = POWER_STEPS) -> Array:
    """Upper estimate of the largest eigenvalue of symmetric PSD matrices (batch, n, n).

    A few power iterations, inflated by :data:`POWER_INFLATION`, and never above the
    trace (a bound for PSD matrices that costs no pass over P). Shape (batch,).
    """
    xp = ops_for(p)
    tiny = finfo(p).tiny
    v = xp.zeros(p.shape[:2], p) + 1.0
    for _ in range(steps):
        v = xp.row_times(v, p)
        v = v / xp.clamp(((v * v).sum(-1) ** 0.5)[:, None], tiny, None)
    rayleigh = (v * xp.row_times(v, p)).sum(-1)
    trace = xp.diagonal(p).sum(-1)
    return xp.clamp(xp.minimum(POWER_INFLATION * rayleigh, trace), tiny, None)


class WarmStart:
    """FISTA on a batch of QPs (:class:`~deepalloc.allocators.qp_kkt.BoxQP`, arrays of
    either backend; with kinks, proximal steps of their costs ``kappa |x - kink|``).

    Precomputes the step matrix ``I - P / L`` (batch, n, n), the projector and the
    thresholds that tell a coordinate at a bound.
    """

    def __init__(self, problem: BoxQP):
        xp = self.xp = problem.xp
        self.problem = problem
        p, q = problem.p, problem.q
        lipschitz = largest_eigenvalue(p)[:, None]
        width = None if problem.kappa is None else problem.kappa / lipschitz
        self.project = GroupProjector(
            problem.totals, problem.lower, problem.upper, problem.groups, problem.kink, width
        )
        self.step_matrix = p / -lipschitz[:, :, None]
        xp.add_diagonal_(self.step_matrix, 1.0)
        self.q_step = q / lipschitz
        span = xp.clamp(problem.upper - problem.lower, 0.0, None)
        self.near = max(BOUND_NEAR, 4 * finfo(q).eps) * (1 + span)
        self.near_lower = problem.lower + self.near
        self.near_upper = problem.upper - self.near

    def run(self, steps: int, check_every: int, start: Array | None = None) -> Array:
        """The projected scaled linear term (or the projected ``start``, (batch, n)),
        then up to ``steps`` accelerated projected gradient steps; stop once the pattern
        of coordinates at their bounds is the same at two checks ``check_every`` steps
        apart. Returns the last iterate (batch, n)."""
        xp = self.xp
        x = self.project(self.q_step if start is None else start)
        v, t = x, 1.0
        pattern = self.pattern(x)
        for step in range(1, steps + 1):
            # x_new = project(v - (P v - q) / L) = project(v (I - P / L) + q / L)
            x_new = self.project(xp.row_times_plus(self.q_step, v, self.step_matrix))
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            v = x_new + ((t - 1) / t_new) * (x_new - x)
            x, t = x_new, t_new
            if step % check_every == 0:
                new_pattern = self.pattern(x)
                if bool((new_pattern == pattern).all()):
                    break
                pattern = new_pattern
        return x

    def pattern(self, x: Array) -> Array:
        """-1 at the upper bound, 1 at the lower bound, 0 free, 2 at a kink (int8)."""
        xp = self.xp
        code = xp.int8(x <= self.near_lower) - xp.int8(x >= self.near_upper)
        if self.problem.kink is None:
            return code
        return code + 2 * xp.int8(abs(x - self.problem.kink) <= self.near)

    def bound_sets(self, x: Array) -> tuple[Array, Array, Array | None]:
        """The coordinates of ``x`` at their lower and upper bounds (with kinks: of their
        segments, a coordinate at its kink counting as at the upper end of the segment
        below it) and, with kinks, which coordinates are above their kink; each group
        keeps a free coordinate."""
        near_lower, near_upper = x <= self.near_lower, x >= self.near_upper
        at_lower, at_upper = near_lower & ~near_upper, near_upper & ~near_lower
        kink = self.problem.kink
        if kink is None:
            return (*self.problem.keep_one_free(at_lower, at_upper, x), None)
        at_kink = abs(x - kink) <= self.near
        above = (x > kink) & ~at_kink
        at_lower = at_lower & ~at_kink  # a bound equal to the kink counts as the kink
        at_upper = (at_upper & ~at_kink) | at_kink
        return self.problem.keep_one_free_kinked(at_lower, at_upper, above, x)
