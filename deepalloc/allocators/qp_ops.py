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
    with solver_threads(QPSettings.from_args(settings), *x.shape):
        kkt = final_kkt(None, p, free, groups)
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
    settings: list[float],
) -> tuple[Tensor, Tensor, Tensor]:
    """The mean-variance forward pass (:class:`~deepalloc.allocators.qp.MeanVarianceFunction`)."""
    sol, p = mean_variance_forward(
        mu, s, gamma, alpha, lower, upper, QPSettings.from_args(settings)
    )
    return sol.x.clone(), sol.free.clone(), p


@mean_variance_op.register_fake
def _mean_variance_fake(mu, s, gamma, alpha, lower, upper, settings):
    return torch.empty_like(mu), torch.empty_like(mu, dtype=torch.bool), torch.empty_like(s)


@torch.library.custom_op("deepalloc::mean_variance_qp_backward", mutates_args=())
def mean_variance_backward_op(
    x: Tensor,
    free: Tensor,
    p: Tensor,
    s: Tensor,
    gamma: Tensor,
    grad_x: Tensor,
    settings: list[float],
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients in ``(mu, S, gamma, alpha)``."""
    with solver_threads(QPSettings.from_args(settings), *x.shape):
        kkt = final_kkt(None, p, free, 1)
        a, grad_s, grad_gamma, grad_alpha = mean_variance_backward(kkt, x, s, gamma, grad_x, True)
    assert grad_s is not None
    return a, grad_s, grad_gamma, grad_alpha


@mean_variance_backward_op.register_fake
def _mean_variance_backward_fake(x, free, p, s, gamma, grad_x, settings):
    return (torch.empty_like(x), torch.empty_like(s), torch.empty_like(gamma),
            torch.empty_like(gamma))  # fmt: skip


def _mean_variance_setup(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    _, s, gamma, _, _, _, settings = inputs
    ctx.save_for_backward(*output, s, gamma)
    ctx.settings = settings


def _mean_variance_grad(ctx: Any, grad_x: Tensor, *_: Any) -> tuple[Any, ...]:
    grads = mean_variance_backward_op(*ctx.saved_tensors, grad_x, ctx.settings)
    return (*grads, None, None, None)


mean_variance_op.register_autograd(_mean_variance_grad, setup_context=_mean_variance_setup)
