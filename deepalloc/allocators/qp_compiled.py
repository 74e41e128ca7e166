"""The batched QP solver's forward pass compiled per sample (numba).

At the sizes a network meets (tens of assets, batches of tens), the vectorised forward
pass of :mod:`deepalloc.allocators.qp_solver` spends most of its time in the fixed cost
of each array operation, not in arithmetic: a FISTA step is about twenty operations
whatever the batch. The same three stages compiled into one loop over the samples run
without that cost, so where ``numba`` is installed (the ``fast`` extra), the solver runs
them here instead, for any number of budget groups and with or without the kinks of
proportional trading costs (:mod:`deepalloc.allocators.qp_kinks`)
(``QPSettings.kernel``, :mod:`deepalloc.allocators.qp_solver`).

Every sample takes, on its own:

1. the warm start of :mod:`deepalloc.allocators.qp_warm`: FISTA with the exact projection
   onto ``{sum(x) = total, lower <= x <= upper}`` (with kinks, the proximal map of the
   costs), stopped when its pattern of bound coordinates is the same at two checks
   ``check_every`` steps apart (none by default here:
   :meth:`~deepalloc.allocators.qp_solver.QPSettings.fista_steps`);
2. the primal-dual active-set steps of :mod:`deepalloc.allocators.qp_solver` (with kinks,
   on segments: :mod:`deepalloc.allocators.qp_kinks`), each a Cholesky factorisation of
   ``P`` on the free coordinates only;
3. after ``fallback_after`` of them, the primal active-set method of
   :mod:`deepalloc.allocators.qp_primal` from its projected point (with kinks, after
   proximal gradient steps from there).

The rules (Newton point, releasing a coordinate when all are bound, stopping test,
ratio test, tolerances) are those of the vectorised solver, so both reach the same
solution up to rounding (and the same active set, unless the solution is degenerate: a
free coordinate exactly at a bound or kink); the tests compare them, and both against
Clarabel. The arithmetic runs in float64 whatever the input dtype (the
tolerance stays that of the input dtype). The backward pass's KKT solve on the final
free sets runs here too (:class:`CompiledKKT`), one sample at a time; the rest of the
backward pass is the vectorised one.
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

import numpy as np
import torch

from deepalloc import _numba
from deepalloc.allocators.qp_kkt import singular_error

NUMBA_MISSING = f"the compiled QP kernel: {_numba.MISSING} (or QPSettings(kernel='vectorised'))"

CONVERGED = 0
"""A sample's status after the solve: converged."""
UNCONVERGED = 1
"""A sample's status: not converged within ``max_iter`` active-set steps."""
SINGULAR = 2
"""A sample's status: ``P`` singular on its free coordinates (even with jitter)."""


def available() -> bool:
    """Whether numba is installed (checked without importing it)."""
    return _numba.available()


class KernelResult(NamedTuple):
    """Solutions ``x`` (batch, n) float64, free coordinates of the final sets ``free``
    (batch, n) bool, with kinks which coordinates are above their kink ``above``
    (batch, n; else ``None``), steps taken ``iterations`` (batch,) and ``status``
    (batch,): :data:`CONVERGED`, :data:`UNCONVERGED` or :data:`SINGULAR`."""

    x: np.ndarray
    free: np.ndarray
    above: np.ndarray | None
    iterations: np.ndarray
    status: np.ndarray


def solve(
    p: np.ndarray,
    q: np.ndarray,
    totals: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    warm_steps: int,
    fallback_warm_steps: int,
    check_every: int,
    fallback_after: int,
    max_iter: int,
    tol: float,
    eps: float,
    kink: np.ndarray | None = None,
    kappa: np.ndarray | None = None,
) -> KernelResult:
    """Solve ``min 1/2 x'Px - q'x (+ sum_i kappa_i |x_i - kink_i|)`` s.t. each group's
    ``sum(x_g) = total_g``, ``lower <= x <= upper`` for every sample.

    Parameters
    ----------
    p
        (batch, n, n) symmetric positive definite.
    q, lower, upper
        (batch, n).
    totals
        (batch, groups): the budgets of contiguous equal groups, feasible.
    warm_steps, check_every, fallback_after, max_iter
        As in :class:`~deepalloc.allocators.qp_solver.QPSettings`.
    fallback_warm_steps
        With kinks, the proximal gradient steps before the primal fallback.
    tol
        Tolerance on the scaled KKT residual (already floored for the dtype).
    eps
        Machine epsilon of the inputs' dtype (sets the bound slacks).
    kink, kappa
        Optional (batch, n): kinks within the bounds and their rates (>= 0).

    Returns
    -------
    KernelResult
    """
    f64 = np.float64
    args = [np.ascontiguousarray(a, dtype=f64) for a in (p, q, totals, lower, upper)]
    kinked = kink is not None and kappa is not None
    costs = [np.ascontiguousarray(a, dtype=f64) if kinked else None for a in (kink, kappa)]
    b, n = q.shape
    x = np.empty((b, n), dtype=f64)
    free = np.empty((b, n), dtype=np.bool_)
    above = np.zeros((b, n), dtype=np.bool_)
    iterations = np.zeros(b, dtype=np.int64)
    status = np.zeros(b, dtype=np.int64)
    _kernels().solve_batch(
        *args, *costs, warm_steps, fallback_warm_steps, check_every, fallback_after,
        max_iter, tol, eps, x, free, above, iterations, status,
    )  # fmt: skip
    return KernelResult(x, free, above if kinked else None, iterations, status)


class CompiledKKT:
    """The KKT systems on the final free sets ``free`` (batch, n), solved per sample by
    the compiled kernel: for the backward pass, in place of
    :class:`~deepalloc.allocators.qp_kkt.ReducedKKT` (factorised anew on each solve,
    which costs little: few coordinates are free).

    Parameters
    ----------
    p
        (batch, n, n) CPU tensor, float32 or float64.
    free
        (batch, n) bool; every group keeps a free coordinate.
    groups
        Number of contiguous equal budget groups.
    """

    def __init__(self, p: torch.Tensor, free: torch.Tensor, groups: int = 1):
        self.free, self.groups = free, groups
        self._p = np.ascontiguousarray(p.detach().numpy(), dtype=np.float64)
        self._free = free.numpy()

    def solve(self, rhs: torch.Tensor, budget: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, n; zero off the free set) and ``nu`` (batch, groups) with
        ``P_FF x_F + nu_g(F) = rhs_F`` and each group's ``sum(x_g) = budget_g``
        (budget: (batch, groups))."""
        f64 = np.float64
        b, n = rhs.shape
        x, nu = np.empty((b, n)), np.empty((b, self.groups))
        status = np.zeros(b, dtype=np.int64)
        _kernels().solve_on_free_sets(
            self._p,
            np.ascontiguousarray(rhs.detach().numpy(), dtype=f64),
            np.ascontiguousarray(budget.detach().numpy(), dtype=f64),
            self._free, x, nu, status,
        )  # fmt: skip
        singular = np.flatnonzero(status == SINGULAR).tolist()
        if singular:
            raise singular_error(singular)
        dtype = rhs.dtype
        return torch.from_numpy(x).to(dtype), torch.from_numpy(nu).to(dtype)


@cache
def _kernels() -> Any:
    """The kernels module (:mod:`deepalloc.allocators.qp_kernels`), which imports numba:
    imported on first use only."""
    if not available():
        raise ImportError(NUMBA_MISSING)
    from deepalloc.allocators import qp_kernels

    return qp_kernels
