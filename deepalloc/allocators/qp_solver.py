"""The batched QP solver's forward pass: settings, input checks and the three stages
described in :mod:`deepalloc.allocators.qp` (warm start, primal-dual active-set steps,
primal active-set fallback). No autograd here: :mod:`deepalloc.allocators.qp` wraps
:func:`_solve` in autograd functions and custom operators.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Any, NamedTuple

import torch

from deepalloc._checks import check_finite, check_ndim
from deepalloc.allocators import qp_compiled
from deepalloc.allocators.qp_backend import Array, NumpyOps, backend, finfo
from deepalloc.allocators.qp_kinks import kinked_pdas_step
from deepalloc.allocators.qp_kkt import (
    BoxQP,
    ReducedKKT,
    any_starved,
    group_sum,
    matvec,
    release_starved,
    singular_error,
    spread,
)
from deepalloc.allocators.qp_primal import primal_active_set, primal_active_set_kinked
from deepalloc.allocators.qp_warm import GroupProjector, WarmStart
from deepalloc.errors import SolverError

TOL_FLOOR_EPS = 50
"""The KKT tolerance is never below this many machine epsilons of the inputs' dtype: the
residual of an exact solve is a few epsilons times the problem's scale (float32!)."""

BOUND_SLACK = 1e-10
"""A primal-dual iterate may exceed its bounds by ``max(BOUND_SLACK, 10 eps) (1 + span)``
and still count as feasible: the free coordinates come from a linear solve, whose
rounding is far below this in float64, while a real violation is far above it."""

SHRINK_WORK = 200_000
"""Samples that finished leave the primal-dual iterations (the batch shrinks) only when
``finished x n^3`` reaches this: below it, the indexing and merging that shrinking costs
(about twenty small tensor operations) exceed the factorisations it saves (measured at
32 x 10, where shrinking made a call slower, and at 32 x 50, where it made it faster).
Either way the results are identical: a finished sample's step is a fixed point."""


@dataclass(frozen=True)
class QPSettings:
    """Solver settings.

    Attributes
    ----------
    warm_steps
        Most FISTA steps used to guess the active set; ``None`` (default): 10 on the
        vectorised path and none on the compiled one, where a sample's active-set step
        costs about what a FISTA step does and the active-set steps alone finish
        sooner (``benchmarks/RESULTS.md``, QP layer).
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
    threads
        Intra-op threads of the solver's forward and backward passes: ``None``
        (default) runs small problems on one thread and larger ones with torch's
        setting (:data:`deepalloc.allocators.qp.SINGLE_THREAD_WORK`); a positive
        integer sets the count for every call. The previous setting is restored after.
    kernel
        How the forward pass runs on the CPU: ``"auto"`` (default) compiled per sample
        (:mod:`deepalloc.allocators.qp_compiled`) when numba is installed (the ``fast``
        extra), else vectorised; ``"compiled"`` requires numba (an error names the
        extra); ``"vectorised"`` never compiles. Other devices and dtypes always run
        vectorised. Both reach the same solution up to rounding.
    """

    warm_steps: int | None = None
    check_every: int = 4
    max_iter: int = 500
    tol: float = 1e-9
    fallback_after: int = 8
    threads: int | None = None
    kernel: str = "auto"

    def __post_init__(self) -> None:
        for name in ("warm_steps", "check_every", "max_iter", "fallback_after"):
            value = getattr(self, name)
            if name == "warm_steps" and value is None:
                continue
            if not isinstance(value, int) or value < (0 if name == "warm_steps" else 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not self.tol > 0:
            raise ValueError(f"tol: expected a positive number, got {self.tol!r}")
        if self.threads is not None and (
            isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1
        ):
            raise ValueError(f"threads: expected None or a positive integer, got {self.threads!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel: expected one of {KERNELS}, got {self.kernel!r}")
        if self.kernel == "compiled" and not qp_compiled.available():
            raise ImportError(f"QPSettings(kernel='compiled'): {qp_compiled.NUMBA_MISSING}")

    def as_args(self) -> list[float]:
        """The settings as numbers (``warm_steps`` -1 and ``threads`` 0 for ``None``,
        ``kernel`` its index in :data:`KERNELS`), for a custom operator."""
        warm, *values, kernel = astuple(self)
        numbers = [float(v) if v is not None else 0.0 for v in values]
        return [-1.0 if warm is None else float(warm), *numbers, float(KERNELS.index(kernel))]

    @classmethod
    def from_args(cls, args: list[float]) -> QPSettings:
        """Inverse of :meth:`as_args`."""
        warm, check, max_iter, tol, fallback, threads, kernel = args
        return cls(
            None if warm < 0 else int(warm), int(check), int(max_iter), float(tol),
            int(fallback), int(threads) or None, KERNELS[int(kernel)],
        )  # fmt: skip

    def fista_steps(self, compiled: bool) -> int:
        """``warm_steps``, or its default on the vectorised or compiled path."""
        if self.warm_steps is not None:
            return self.warm_steps
        return 0 if compiled else 10

    def compiles(self, q: torch.Tensor, allow_numpy: bool = True) -> bool:
        """Whether a problem with linear term ``q`` (batch, n) runs on the compiled
        kernel (a CPU float tensor, numba installed, unless the setting is
        ``"vectorised"``)."""
        return (
            self.kernel != "vectorised"
            and backend(q, allow_numpy) is NumpyOps
            and (self.kernel == "compiled" or qp_compiled.available())
        )


KERNELS = ("auto", "compiled", "vectorised")
"""The values of ``QPSettings.kernel``."""


@dataclass
class _PDASProblem(BoxQP):
    """A batch of QPs with what every primal-dual step needs, computed once:
    ``1 / diag(P)``, the feasibility slack (batch, n), the bounds widened by it and the
    residual tolerance ``tol x scale`` (batch, 1)."""

    inv_diag: Array = None
    slack: Array = None
    lower_ok: Array = None
    upper_ok: Array = None
    tol_scale: Array = None

    @classmethod
    def of(cls, problem: BoxQP, tol: float) -> _PDASProblem:
        xp = problem.xp
        info = finfo(problem.q)
        slack = max(BOUND_SLACK, 10 * info.eps) * (1.0 + abs(problem.upper - problem.lower))
        return cls(
            **problem.fields(),
            inv_diag=1.0 / xp.clamp(xp.diagonal(problem.p), info.tiny, None),
            slack=slack,
            lower_ok=problem.lower - slack,
            upper_ok=problem.upper + slack,
            tol_scale=(tol * problem.scale())[:, None],
        )

    def index(self, idx: Array) -> _PDASProblem:
        return _PDASProblem(
            **super().index(idx).fields(),
            inv_diag=self.inv_diag[idx],
            slack=self.slack[idx],
            lower_ok=self.lower_ok[idx],
            upper_ok=self.upper_ok[idx],
            tol_scale=self.tol_scale[idx],
        )


class Sets(NamedTuple):
    """Bound sets (batch, n): at the lower and at the upper bound; with kinks, those of
    the segments and which coordinates are above their kink
    (:mod:`deepalloc.allocators.qp_kinks`), else ``above`` is ``None``."""

    at_lower: Array
    at_upper: Array
    above: Array | None

    def take(self, idx: Array) -> Sets:
        """The samples ``idx``."""
        return Sets(
            self.at_lower[idx],
            self.at_upper[idx],
            None if self.above is None else self.above[idx],
        )


class _PDASStep(NamedTuple):
    """One primal-dual active-set step on a batch: the working-set solution ``x``, its
    factorisation, the next sets and which samples are done."""

    x: Array
    kkt: ReducedKKT
    sets: Sets
    done: Array


def _pdas_step(problem: _PDASProblem, sets: Sets) -> _PDASStep:
    """Solve on the current bound sets, then guess the next ones.

    The next sets come from the semismooth Newton view of the complementarity
    conditions: a coordinate whose Newton point ``x - grad / P_ii`` falls below its
    lower (above its upper) bound is held there; every group keeps a free coordinate.
    A sample is done when its sets are unchanged, its point is within
    :data:`BOUND_SLACK` of its bounds and its gradient on the free coordinates is below
    ``tol`` times the problem's scale. Problems with kinks take
    :func:`~deepalloc.allocators.qp_kinks.kinked_pdas_step`.
    """
    if sets.above is not None:
        step = kinked_pdas_step(problem, *sets, problem.inv_diag, problem.slack, problem.tol_scale)
        return _PDASStep(step.x, step.kkt, Sets(*step[2:5]), step.done)
    at_lower, at_upper = sets.at_lower, sets.at_upper
    x, nu, kkt = problem.solve_working_set(at_lower, at_upper)
    n, groups = x.shape[1], problem.groups
    grad = matvec(problem.p, x) - problem.q + spread(nu, n)
    newton = x - grad * problem.inv_diag
    # lower <= upper, so a point below its lower bound is never above its upper one
    new_lower = newton < problem.lower
    new_upper = newton > problem.upper
    if any_starved(new_lower, new_upper, groups):
        new_fixed = problem.xp.where(
            new_lower, problem.lower, problem.xp.where(new_upper, problem.upper, x)
        )
        new_lower, new_upper = release_starved(
            problem.xp,
            new_lower,
            new_upper,
            spread(nu, n) - grad,
            problem.totals - group_sum(new_fixed, groups),
            groups,
        )
    ok = (new_lower == at_lower) & (new_upper == at_upper)
    ok &= (x <= problem.upper_ok) & (x >= problem.lower_ok)
    residual = problem.xp.amax(abs(grad * kkt.free))[:, None]
    done = ok.all(-1) & (residual <= problem.tol_scale)[:, 0]
    return _PDASStep(x, kkt, Sets(new_lower, new_upper, None), done)


class QPSolution(NamedTuple):
    """What :func:`_solve` returns (torch tensors): the solutions ``x`` (batch, n), the
    free coordinates of their final active sets ``free`` (batch, n), with kinks which
    coordinates are above their kink ``above`` (batch, n; else ``None``), the
    factorisation of the final sets when the last step made it for the whole batch
    (else ``None``: the backward pass makes it, :meth:`ReducedKKT.factor`) and the
    iterations taken."""

    x: torch.Tensor
    free: torch.Tensor
    above: torch.Tensor | None
    kkt: ReducedKKT | None
    iterations: int


class _Batch:
    """The solutions and final sets over the whole batch, and the samples still
    iterated (``idx``; ``None`` while it is the whole batch)."""

    def __init__(self) -> None:
        self.x: Array = None
        self.free: Array = None
        self.above: Any = None
        self.idx: Array | None = None

    def store(self, x: Array, free: Array, above: Array | None, xp: Any) -> None:
        """Write the iterated samples' points and sets into the whole batch."""
        if self.idx is None:
            self.x, self.free = xp.copy(x), xp.copy(free)
            self.above = None if above is None else xp.copy(above)
            return
        self.x[self.idx], self.free[self.idx] = x, free
        if above is not None:
            self.above[self.idx] = above


def _solve(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
    settings: QPSettings,
    *,
    kink: torch.Tensor | None = None,
    kappa: torch.Tensor | None = None,
    allow_numpy: bool = True,
) -> QPSolution:
    """Solve the batch (module :mod:`deepalloc.allocators.qp`, forward), with the costs
    ``kappa |x - kink|`` when both are given (:mod:`deepalloc.allocators.qp_kinks`).
    The work runs on the backend :func:`~deepalloc.allocators.qp_backend.backend` picks
    (``allow_numpy=False``: torch)."""
    xp = backend(q, allow_numpy)
    a = xp.asarray
    kinked = kink is not None and kappa is not None
    problem = BoxQP(
        a(p), a(q), a(totals), a(lower), a(upper), groups,
        a(kink) if kinked else None, a(kappa) if kinked else None,
    )  # fmt: skip
    if settings.compiles(q, allow_numpy):
        return _solve_compiled(problem, settings)
    x, free, above, kkt, iterations = _solve_arrays(problem, settings)
    return QPSolution(
        xp.tensor(x),
        xp.tensor(free),
        None if above is None else xp.tensor(above),
        None if kkt is None else kkt.to_torch(),
        iterations,
    )


def _solve_compiled(problem: BoxQP, settings: QPSettings) -> QPSolution:
    """:func:`_solve` by the compiled kernel (:mod:`deepalloc.allocators.qp_compiled`);
    the backward pass solves on the final free sets itself."""
    eps = finfo(problem.q).eps
    result = qp_compiled.solve(
        problem.p, problem.q, problem.totals, problem.lower, problem.upper,
        warm_steps=settings.fista_steps(True), fallback_warm_steps=settings.fista_steps(False),
        check_every=settings.check_every, fallback_after=settings.fallback_after,
        max_iter=settings.max_iter, tol=max(settings.tol, TOL_FLOOR_EPS * eps), eps=eps,
        kink=problem.kink, kappa=problem.kappa,
    )  # fmt: skip
    singular = (result.status == qp_compiled.SINGULAR).nonzero()[0].tolist()
    if singular:
        raise singular_error(singular)
    bad = (result.status == qp_compiled.UNCONVERGED).nonzero()[0].tolist()
    if bad:
        raise _unconverged_error(settings, bad)
    x = torch.from_numpy(result.x.astype(problem.q.dtype, copy=False))
    above = None if result.above is None else torch.from_numpy(result.above)
    return QPSolution(x, torch.from_numpy(result.free), above, None, int(result.iterations.max()))


def _solve_arrays(
    problem: BoxQP, settings: QPSettings
) -> tuple[Array, Array, Array | None, ReducedKKT | None, int]:
    """:func:`_solve` on the backend of ``problem``'s arrays."""
    xp, n = problem.xp, problem.q.shape[1]
    # 1. warm start: FISTA on the feasible set, step 1 / (estimated largest eigenvalue)
    warm = WarmStart(problem)
    sets = Sets(*warm.bound_sets(warm.run(settings.fista_steps(False), settings.check_every)))
    tol = max(settings.tol, TOL_FLOOR_EPS * finfo(problem.q).eps)
    # 2. primal-dual active-set steps; finished samples leave when that saves work
    full = _PDASProblem.of(problem, tol)
    sub, state = full, _Batch()
    pdas_iter = min(settings.fallback_after, settings.max_iter)
    for iteration in range(1, pdas_iter + 1):
        step = _pdas_step(sub, sets)
        finished = int(step.done.sum())
        # a finished sample's sets are those it was solved on (its next ones are equal)
        if finished == len(step.done):
            kkt = step.kkt if state.idx is None else None
            state.store(step.x, step.kkt.free, sets.above, xp)
            return state.x, state.free, state.above, kkt, iteration
        if finished * n**3 >= SHRINK_WORK or iteration == pdas_iter:
            state.store(step.x, step.kkt.free, sets.above, xp)
            keep = xp.nonzero(~step.done)
            state.idx = keep if state.idx is None else state.idx[keep]
            sub, sets = sub.index(keep), step.sets.take(keep)
        else:
            sets = step.sets
    # 3. the samples still running finish with the primal active-set method
    extra = _finish_with_primal(full, state, settings, tol)
    return state.x, state.free, state.above, None, pdas_iter + extra


def _finish_with_primal(full: BoxQP, state: _Batch, settings: QPSettings, tol: float) -> int:
    """Solve the samples ``state.idx`` by the primal active-set method (on torch) from
    their projected points (with kinks: from up to ``settings.fista_steps(False)`` accelerated
    proximal gradient steps started there), with the iterations ``settings.max_iter`` leaves after the
    primal-dual ones; write into ``state`` and return the steps taken."""
    xp, active = full.xp, state.idx
    assert active is not None
    rest = full.index(active)
    start = GroupProjector(rest.totals, rest.lower, rest.upper, rest.groups)(state.x[active])
    if full.kink is not None:
        # proximal gradient steps from there land exactly on kinks and bounds: the
        # primal method, which adds one coordinate to its set per step, then starts on
        # (nearly) the final set instead of blocking at one kink after another (issue 21)
        start = WarmStart(rest).run(settings.fista_steps(False), settings.check_every, start)
    budget = settings.max_iter - min(settings.fallback_after, settings.max_iter)
    if full.kink is None:
        x_rest, free_rest, converged, extra = primal_active_set(
            BoxQP(**rest.to_torch().fields()), xp.tensor(start), budget, tol
        )
    else:
        x_rest, free_rest, above, converged, extra = primal_active_set_kinked(
            BoxQP(**rest.to_torch().fields()), xp.tensor(start), budget, tol
        )
        state.above[active] = xp.asarray(above)
    if not bool(converged.all()):
        raise _unconverged_error(settings, [int(i) for i in active[xp.asarray(~converged)]])
    state.x[active], state.free[active] = xp.asarray(x_rest), xp.asarray(free_rest)
    return extra


def _unconverged_error(settings: QPSettings, samples: list[int]) -> SolverError:
    return SolverError(
        f"QP: expected the active-set iterations to converge within {settings.max_iter} "
        f"iterations, got {len(samples)} unconverged samples {samples[:10]}",
        samples,
    )


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
    and the sum of its upper bounds (up to rounding). A few reductions and one
    synchronisation when all is well.
    """
    check_shapes(p, q, totals, lower, upper, groups)
    check_values(
        {"p": p, "q": q, "totals": totals, "lower": lower, "upper": upper},
        totals,
        lower,
        upper,
        groups,
    )


def check_shapes(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
) -> None:
    """The shape part of :func:`check_box_qp` (no synchronisation)."""
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


def check_values(
    named: dict[str, torch.Tensor],
    totals: torch.Tensor | None = None,
    lower: torch.Tensor | None = None,
    upper: torch.Tensor | None = None,
    groups: int = 1,
    *,
    non_negative: tuple[str, ...] = (),
) -> None:
    """Raise unless every tensor in ``named`` is finite, the tensors named in
    ``non_negative`` are >= 0 and (when bounds are given) ``lower <= upper`` and the
    totals are feasible.

    All conditions are reduced to one flag and read with one synchronisation; only
    when it is raised are they checked one by one for the message.
    """
    for name, tensor in named.items():  # no synchronisation: the dtype is on the host
        if not tensor.is_floating_point():
            raise TypeError(f"{name}: expected a floating-point tensor, got {tensor.dtype}")
    sums = [t.detach().sum() for t in named.values()]
    total = sums[0]
    for value in sums[1:]:
        total = total + value  # finite only if every element of every tensor is
    bad = ~torch.isfinite(total)
    for name in non_negative:
        bad = bad | (named[name].detach() < 0).any()
    bounds = totals is not None and lower is not None and upper is not None
    if bounds:
        assert totals is not None and lower is not None and upper is not None
        low_sum, high_sum = group_sum(lower, groups), group_sum(upper, groups)
        eps = torch.finfo(lower.dtype).eps
        slack = 4 * (lower.shape[1] // groups) * eps * (1 + low_sum.abs() + high_sum.abs())
        bad = bad | (lower > upper).any()
        bad = bad | (totals < low_sum - slack).any() | (totals > high_sum + slack).any()
    if not bool(bad):
        return
    for name, tensor in named.items():
        check_finite(name, tensor)
    for name in non_negative:
        if bool((named[name].detach() < 0).any()):
            raise ValueError(f"{name}: expected non-negative values, got a negative one")
    if bounds:
        _check_bounds(totals, lower, upper, groups)  # type: ignore[arg-type]


def _check_bounds(
    totals: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, groups: int
) -> None:
    """Raise on crossed bounds or infeasible totals, naming the samples."""
    crossed = (lower > upper).any(-1)
    if bool(crossed.any()):
        bad_rows = torch.nonzero(crossed).flatten().tolist()
        raise ValueError(
            f"lower, upper: expected lower <= upper, got lower > upper in samples {bad_rows[:10]}"
        )
    low_sum, high_sum = group_sum(lower, groups), group_sum(upper, groups)
    eps = torch.finfo(lower.dtype).eps
    slack = 4 * (lower.shape[1] // groups) * eps * (1 + low_sum.abs() + high_sum.abs())
    infeasible = ((totals < low_sum - slack) | (totals > high_sum + slack)).any(-1)
    bad_rows = torch.nonzero(infeasible).flatten().tolist()
    if not bad_rows:  # the flag came from a sum that overflowed: all is well
        return
    i = bad_rows[0]
    raise ValueError(
        f"totals: expected each group's total between the sums of its lower and upper "
        f"bounds, got infeasible totals in samples {bad_rows[:10]} (sample {i}: totals "
        f"{totals[i].tolist()}, bound sums [{low_sum[i].tolist()}, {high_sum[i].tolist()}])"
    )
