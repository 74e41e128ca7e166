"""The batched QP solver's autograd pieces shared by its autograd functions and its
custom operators (:mod:`deepalloc.allocators.qp`, :mod:`deepalloc.allocators.qp_ops`):
the checked forward passes, the implicit (KKT) backward passes and the scope that sets
the solver's intra-op threads. The formulas are in :mod:`deepalloc.allocators.qp`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch

from deepalloc.allocators import qp_solver
from deepalloc.allocators.qp_compiled import CompiledKKT
from deepalloc.allocators.qp_kkt import ReducedKKT, matvec, rows_times, spread
from deepalloc.allocators.qp_solver import QPSettings, QPSolution, check_box_qp, check_values

SINGLE_THREAD_WORK = 64 * 100**3
"""With ``QPSettings.threads = None``, a problem with ``batch x n^3`` below this runs on
one intra-op thread (``benchmarks/bench_qp_load.py``, idle 2-core machine: a second
thread saves nothing at 256 x 50 and 24-39% at 1,024 x 50, 32 x 200 and 32 x 500, while
with one core busy it makes 256 x 50 1.7x slower)."""


@contextmanager
def solver_threads(settings: QPSettings, batch: int, n: int) -> Iterator[None]:
    """Run the block with the solver's intra-op thread count (:class:`QPSettings`),
    restoring torch's setting after it."""
    before = torch.get_num_threads()
    if settings.threads is not None:
        wanted = settings.threads
    else:
        wanted = 1 if batch * n**3 < SINGLE_THREAD_WORK else before
    if wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def final_kkt(
    kkt: ReducedKKT | None,
    p: torch.Tensor,
    free: torch.Tensor,
    groups: int,
    settings: QPSettings,
) -> ReducedKKT | CompiledKKT:
    """The KKT system of the final active sets: the solver's factorisation when it made
    one for the whole batch; else, on the CPU, the compiled per-sample solve when the
    settings allow it (:class:`~deepalloc.allocators.qp_compiled.CompiledKKT`),
    or a new factorisation (compact, so cheap: few coordinates are free)."""
    if kkt is not None:
        return kkt
    if settings.compiles(p[:, 0]):
        return CompiledKKT(p, free, groups)
    return ReducedKKT.factor(p, free, groups)[0]


def adjoint(
    kkt: ReducedKKT | CompiledKKT, grad_x: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve the KKT system on the final active set with right-hand side ``dL/dx``:
    ``a`` (``dL/dq``, batch, n) and ``c`` (``dL/dtotals``, batch, groups)."""
    zero_budget = grad_x.new_zeros(grad_x.shape[0], kkt.groups)
    return kkt.solve(grad_x, zero_budget)


def box_backward(
    kkt: ReducedKKT | CompiledKKT,
    x: torch.Tensor,
    p: torch.Tensor,
    lower: torch.Tensor,
    grad_x: torch.Tensor,
    needs: tuple[bool, ...],
) -> tuple[torch.Tensor | None, ...]:
    """Gradients in ``(P, q, totals, lower, upper)`` (module :mod:`~deepalloc.allocators.qp`,
    backward); ``needs`` says which are wanted."""
    a, c = adjoint(kkt, grad_x)
    grad_p = None
    if needs[0]:
        grad_p = torch.bmm(torch.stack([a, x], 2), torch.stack([x, a], 1)).mul_(-0.5)
    grad_lower = grad_upper = None
    if needs[3] or needs[4]:
        passed = grad_x - matvec(p, a) - spread(c, x.shape[1])
        bound = ~kkt.free
        at_lower = bound & (x == lower)  # a bound coordinate equals its bound exactly
        grad_lower = passed * at_lower if needs[3] else None
        grad_upper = passed * (bound & ~at_lower) if needs[4] else None
    return grad_p, a, (c if needs[2] else None), grad_lower, grad_upper


def solve_checked(
    p: torch.Tensor,
    q: torch.Tensor,
    totals: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    groups: int,
    settings: QPSettings,
) -> QPSolution:
    """Check the values of a box QP's inputs, then solve it in the thread scope."""
    check_box_qp(p, q, totals, lower, upper, groups)
    with solver_threads(settings, *q.shape):
        return qp_solver._solve(p, q, totals, lower, upper, groups, settings)


def mean_variance_matrix(s: torch.Tensor, gamma: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``P = 2 (gamma S'S + diag(alpha))``, (batch, n, n); ``alpha`` (batch,) or
    (batch, n)."""
    p = torch.bmm(s.transpose(1, 2), s).mul_((2 * gamma)[:, None, None])
    diag = 2 * alpha
    p.diagonal(dim1=-2, dim2=-1).add_(diag[:, None] if diag.ndim == 1 else diag)
    return p


def mean_variance_forward(
    mu: torch.Tensor,
    s: torch.Tensor,
    gamma: torch.Tensor,
    alpha: torch.Tensor,
    lower: torch.Tensor,
    upper: torch.Tensor,
    settings: QPSettings,
    kink: torch.Tensor | None = None,
    kappa: torch.Tensor | None = None,
) -> tuple[QPSolution, torch.Tensor]:
    """Check, form ``P`` and solve the mean-variance QP (with the proportional costs
    ``kappa |w - kink|`` when given): the solution and ``P``."""
    totals = mu.new_ones(mu.shape[0], 1)
    named = {"mu": mu, "cov_sqrt": s, "gamma": gamma, "alpha": alpha}
    if kink is not None and kappa is not None:
        named.update(previous_weights=kink, kappa=kappa)
    # the bounds are the caller's (0 or -cap, and cap, with n cap >= 1): feasible
    check_values(named, non_negative=("gamma", "alpha", "kappa")[: 3 if kappa is not None else 2])
    with solver_threads(settings, *mu.shape):
        p = mean_variance_matrix(s, gamma, alpha)
        sol = qp_solver._solve(p, mu, totals, lower, upper, 1, settings, kink=kink, kappa=kappa)
        return sol, p


class MeanVarianceGrads(NamedTuple):
    """Gradients of the mean-variance layer's inputs (``None`` where not asked for)."""

    mu: torch.Tensor
    s: torch.Tensor | None
    gamma: torch.Tensor
    alpha: torch.Tensor
    kink: torch.Tensor | None
    kappa: torch.Tensor | None


def mean_variance_backward(
    kkt: ReducedKKT | CompiledKKT,
    x: torch.Tensor,
    s: torch.Tensor,
    gamma: torch.Tensor,
    alpha: torch.Tensor,
    grad_x: torch.Tensor,
    need_s: bool,
    kink: torch.Tensor | None = None,
    above: torch.Tensor | None = None,
) -> MeanVarianceGrads:
    """Gradients in ``(mu, S, gamma, alpha, kink, kappa)`` from ``dL/dw``: with the
    adjoint ``(a, c)`` and ``dL/dP = -(a w' + w a') / 2``: ``dL/dmu = a``,
    ``dL/dS = -2 gamma (S a w' + S w a')``, ``dL/dgamma = -2 (S a)'(S w)``,
    ``dL/dalpha = -2 a w`` (per asset, summed for a per-sample ``alpha``); with kinks,
    a coordinate held at its kink passes ``dL/dw - P a - c`` to it, and
    ``dL/dkappa = -a`` above the kink, ``+a`` below it (zero where not free)."""
    a, c = adjoint(kkt, grad_x)
    s_ax = rows_times(torch.stack([a, x], 1), s)  # rows S a, S x: (b, 2, n)
    grad_s = None
    if need_s:
        grad_s = torch.bmm(s_ax.transpose(1, 2), torch.stack([x, a], 1))
        grad_s.mul_((-2 * gamma)[:, None, None])
    grad_gamma = -2 * (s_ax[:, 0] * s_ax[:, 1]).sum(-1)
    grad_alpha = -2 * a * x
    if alpha.ndim == 1:
        grad_alpha = grad_alpha.sum(-1)
    if kink is None or above is None:
        return MeanVarianceGrads(a, grad_s, grad_gamma, grad_alpha, None, None)
    diag = 2 * alpha[:, None] if alpha.ndim == 1 else 2 * alpha
    p_a = torch.bmm(s_ax[:, :1], s).squeeze(1).mul_(2 * gamma[:, None]) + diag * a
    at_kink = ~kkt.free & ~above & (x == kink)
    grad_kink = (grad_x - p_a - c) * at_kink
    grad_kappa = torch.where(above, -a, a)
    return MeanVarianceGrads(a, grad_s, grad_gamma, grad_alpha, grad_kink, grad_kappa)
