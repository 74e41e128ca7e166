"""The batched QP solver as ``torch.library`` custom operators, for compiled graphs.

The solver's loop depends on the data (active sets, convergence, input checks), which
``torch.compile`` cannot trace without breaking the graph. Under compilation
:func:`deepalloc.allocators.qp.solve_box_qp` and
:func:`deepalloc.allocators.qp.mean_variance_qp` call these operators instead: each is
opaque to the compiler (a fake implementation gives the output shapes) and runs the
same eager code as the autograd functions, input checks included. Their backward passes
are operators too, so the solver's thread scope applies to both.

Forward outputs: the solution ``x`` (batch, n) and the free coordinates of its final
active set (batch, n) (and, for the mean-variance operator, ``P`` (batch, n, n)); the
backward factorises the final active set again (compactly, so cheaply) and solves.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from deepalloc.allocators.qp_grad import (
    box_backward,
    final_kkt,
    mean_variance_backward,
    mean_variance_forward,
    solve_checked,
    solver_threads,
)
from deepalloc.allocators.qp_solver import QPSettings


@torch.library.custom_op("deepalloc::box_qp", mutates_args=())
def box_qp_op(
    p: Tensor,
    q: Tensor,
    totals: Tensor,
    lower: Tensor,
    upper: Tensor,
    groups: int,
    settings: list[float],
) -> tuple[Tensor, Tensor]:
    """The box QP's forward pass (:class:`deepalloc.allocators.qp.BoxQPFunction`)."""
    sol = solve_checked(p, q, totals, lower, upper, groups, QPSettings.from_args(settings))
    return sol.x.clone(), sol.free.clone()


@box_qp_op.register_fake
def _box_qp_fake(p, q, totals, lower, upper, groups, settings):
    return torch.empty_like(q), torch.empty_like(q, dtype=torch.bool)


@torch.library.custom_op("deepalloc::box_qp_backward", mutates_args=())
def box_qp_backward_op(
    x: Tensor,
    free: Tensor,
    p: Tensor,
    lower: Tensor,
    grad_x: Tensor,
    groups: int,
    settings: list[float],
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients in ``(P, q, totals, lower, upper)``."""
    qp_settings = QPSettings.from_args(settings)
    with solver_threads(qp_settings, *x.shape):
        kkt = final_kkt(None, p, free, groups, qp_settings)
        grads = box_backward(kkt, x, p, lower, grad_x, (True,) * 5)
    return tuple(g.contiguous() for g in grads if g is not None)  # type: ignore[return-value]


@box_qp_backward_op.register_fake
def _box_qp_backward_fake(x, free, p, lower, grad_x, groups, settings):
    return (torch.empty_like(p), torch.empty_like(x), x.new_empty(x.shape[0], groups),
            torch.empty_like(x), torch.empty_like(x))  # fmt: skip


def _box_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, Tensor]) -> None:
    p, _, _, lower, _, groups, settings = inputs
    ctx.save_for_backward(*output, p, lower)
    ctx.groups, ctx.settings = groups, settings


def _box_grad(ctx: Any, grad_x: Tensor, *_: Any) -> tuple[Any, ...]:
    grads = box_qp_backward_op(*ctx.saved_tensors, grad_x, ctx.groups, ctx.settings)
    return (*grads, None, None)


box_qp_op.register_autograd(_box_grad, setup_context=_box_setup)


@torch.library.custom_op("deepalloc::mean_variance_qp", mutates_args=())
def mean_variance_op(
    mu: Tensor,
    s: Tensor,
    gamma: Tensor,
    alpha: Tensor,
    lower: Tensor,
    upper: Tensor,
    kink: Tensor | None,
    kappa: Tensor | None,
    settings: list[float],
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The mean-variance forward pass (:class:`~deepalloc.allocators.qp.MeanVarianceFunction`):
    the weights, the final free set, which coordinates are above their kink (all false
    without kinks) and ``P``."""
    sol, p = mean_variance_forward(
        mu, s, gamma, alpha, lower, upper, QPSettings.from_args(settings), kink, kappa
    )
    above = sol.above.clone() if sol.above is not None else torch.zeros_like(sol.free)
    return sol.x.clone(), sol.free.clone(), above, p


@mean_variance_op.register_fake
def _mean_variance_fake(mu, s, gamma, alpha, lower, upper, kink, kappa, settings):
    flags = torch.empty_like(mu, dtype=torch.bool)
    return torch.empty_like(mu), flags, torch.empty_like(flags), torch.empty_like(s)


@torch.library.custom_op("deepalloc::mean_variance_qp_backward", mutates_args=())
def mean_variance_backward_op(
    x: Tensor,
    free: Tensor,
    above: Tensor,
    p: Tensor,
    s: Tensor,
    gamma: Tensor,
    alpha: Tensor,
    kink: Tensor | None,
    grad_x: Tensor,
    settings: list[float],
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients in ``(mu, S, gamma, alpha, kink, kappa)`` (zeros for absent kinks)."""
    qp_settings = QPSettings.from_args(settings)
    with solver_threads(qp_settings, *x.shape):
        kkt = final_kkt(None, p, free, 1, qp_settings)
        g = mean_variance_backward(
            kkt, x, s, gamma, alpha, grad_x, True, kink, above if kink is not None else None
        )
    assert g.s is not None
    grad_kink = g.kink if g.kink is not None else torch.zeros_like(x)
    grad_kappa = g.kappa if g.kappa is not None else torch.zeros_like(x)
    return g.mu, g.s, g.gamma, g.alpha, grad_kink, grad_kappa


@mean_variance_backward_op.register_fake
def _mean_variance_backward_fake(x, free, above, p, s, gamma, alpha, kink, grad_x, settings):
    return (torch.empty_like(x), torch.empty_like(s), torch.empty_like(gamma),
            torch.empty_like(alpha), torch.empty_like(x), torch.empty_like(x))  # fmt: skip


def _mean_variance_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    _, s, gamma, alpha, _, _, kink, kappa, settings = inputs
    ctx.save_for_backward(*output, s, gamma, alpha, kink)
    ctx.settings, ctx.kinked = settings, kink is not None and kappa is not None


def _mean_variance_grad(ctx: Any, grad_x: Tensor, *_: Any) -> tuple[Any, ...]:
    x, free, above, p, s, gamma, alpha, kink = ctx.saved_tensors
    grads = mean_variance_backward_op(
        x, free, above, p, s, gamma, alpha, kink if ctx.kinked else None, grad_x, ctx.settings
    )
    kinks = grads[4:] if ctx.kinked else (None, None)
    return (*grads[:4], None, None, *kinks, None)


mean_variance_op.register_autograd(_mean_variance_grad, setup_context=_mean_variance_setup)
