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
    ``{x : sum(x) = total, lower <= x <= upper}``, for fixed bounds and totals.

    The threshold ``tau`` with ``sum(clip(z - tau, lower, upper)) = total`` is found
    exactly: ``g(tau) = sum_i clip(z_i - tau, l_i, u_i)`` is piecewise linear and
    non-increasing with breakpoints ``z_i - u_i`` (coordinate i starts moving, slope
    -1) and ``z_i - l_i`` (it stops, slope +1); the breakpoints are sorted once and
    ``g`` evaluated at all of them by cumulative sums, so the cost is O(n log n) per
    group with no iteration.

    Parameters
    ----------
    totals
        Budgets, (batch, groups); each between the sums of its group's bounds.
    lower, upper
        Bounds, (batch, n); arrays of either backend
        (:mod:`deepalloc.allocators.qp_backend`).
    groups
        Number of contiguous equal-size groups.
    """

    def __init__(self, totals: Array, lower: Array, upper: Array, groups: int):
        xp = self.xp = ops_for(lower)
        b, n = lower.shape
        rows, m = b * groups, n // groups
        self.shape = (b, n)
        self.lower = lower.reshape(rows, m)
        self.upper = upper.reshape(rows, m)
        self.offsets = xp.concat([self.upper, self.lower], 1)  # (rows, 2m)
        self.signs = xp.concat(
            [xp.zeros((rows, m), lower) - 1.0, xp.zeros((rows, m), lower) + 1.0], 1
        )
        # g(tau) - sum(upper) must fall to totals - sum(upper) (<= 0)
        self.deficit = totals.reshape(rows, 1) - self.upper.sum(-1)[:, None]
        self.first = xp.arange(rows, lower) * (2 * m) - 1  # flat index before each row
        self.zero = xp.zeros((rows, 1), lower)

    def __call__(self, z: Array) -> Array:
        """Project ``z`` (batch, n); returns (batch, n)."""
        xp = self.xp
        rows, m = self.lower.shape
        zg = z.reshape(rows, m)
        points, order = xp.sort_rows(xp.concat([zg, zg], 1) - self.offsets)
        slope = xp.cumsum(xp.take(self.signs, order))
        # g at each sorted breakpoint, minus sum(upper): 0 at the first
        rise = xp.concat([self.zero, xp.cumsum(slope[:, :-1] * xp.diff(points))], 1)
        # the last breakpoint where g is still >= total (g at the first one, sum(upper),
        # always is); tau lies on the interval after it
        at = self.first + xp.clamp((rise >= self.deficit).sum(-1), None, 2 * m - 1)
        p_k, s_k, r_k = xp.take(points, at), xp.take(slope, at), xp.take(rise, at)
        # slopes are integers <= 0; where one is 0, g is flat at the total (the numerator
        # vanishes), so dividing by 1 there instead changes nothing
        tau = p_k + (self.deficit[:, 0] - r_k) / xp.clamp(s_k, None, -1.0)
        return xp.clip(zg - tau[:, None], self.lower, self.upper).reshape(self.shape)


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
    either backend).

    Precomputes the step matrix ``I - P / L`` (batch, n, n), the projector and the
    thresholds that tell a coordinate at a bound.
    """

    def __init__(self, problem: BoxQP, projector: GroupProjector):
        xp = self.xp = problem.xp
        self.problem = problem
        self.project = projector
        p, q = problem.p, problem.q
        lipschitz = largest_eigenvalue(p)[:, None]
        self.step_matrix = p / -lipschitz[:, :, None]
        xp.add_diagonal_(self.step_matrix, 1.0)
        self.q_step = q / lipschitz
        span = xp.clamp(problem.upper - problem.lower, 0.0, None)
        near = max(BOUND_NEAR, 4 * float(finfo(q).eps)) * (1 + span)
        self.near_lower = problem.lower + near
        self.near_upper = problem.upper - near

    def run(self, steps: int, check_every: int) -> Array:
        """The projected scaled linear term, then up to ``steps`` accelerated projected
        gradient steps; stop once the pattern of coordinates at their bounds is the same
        at two checks ``check_every`` steps apart. Returns the last iterate (batch, n)."""
        xp = self.xp
        x = self.project(self.q_step)
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
        """-1 at the upper bound, 1 at the lower bound, 0 free (int8, (batch, n))."""
        xp = self.xp
        return xp.int8(x <= self.near_lower) - xp.int8(x >= self.near_upper)

    def bound_sets(self, x: Array) -> tuple[Array, Array]:
        """The coordinates of ``x`` at their lower and upper bounds, each group keeping
        a free one."""
        near_lower, near_upper = x <= self.near_lower, x >= self.near_upper
        return self.problem.keep_one_free(near_lower & ~near_upper, near_upper & ~near_lower, x)
