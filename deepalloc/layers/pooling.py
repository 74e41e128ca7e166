"""Collapse the time axis: (batch, channel, asset, time) -> (batch, channel, asset)."""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from deepalloc import _numba
from deepalloc._checks import check_choice, check_ndim

POOL_MODES = ("last", "mean", "max", "attention", "exp_decay")
"""The pooling modes: the options of the ``mode`` of :class:`TimePool`."""


def attention_pool(x: torch.Tensor, score: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Attention pooling over time: ``out[b, c, a] = sum_t w[b, a, t] x[b, c, a, t]`` with
    ``w = softmax_t(score @ x[b, :, a, t] + bias)``.

    Parameters
    ----------
    x
        Shape (batch, channel, asset, time); cheapest when its memory is laid out time
        first, as (time, batch, asset, channel), which is how PyTorch's recurrent
        kernels lay out their output (:class:`~deepalloc.layers.AssetRNN`): then no
        copy is made. Any other layout is copied once.
    score
        Weights of the linear score, shape (channel,).
    bias
        Its bias, a scalar tensor.

    Returns
    -------
    torch.Tensor
        Shape (batch, channel, asset).
    """
    b, c, a, t = x.shape
    series = x.permute(3, 0, 2, 1).reshape(t, b * a, c)  # a view of a recurrent output
    pooled: torch.Tensor = _AttentionPool.apply(series, score, bias)
    return pooled.view(b, a, c).permute(0, 2, 1)


def _compiles(series: torch.Tensor) -> bool:
    """Whether attention pooling of ``series`` runs the compiled kernels
    (:mod:`deepalloc.layers.pooling_kernels`): numba installed, a CPU float tensor, and
    not while ``torch.compile`` traces."""
    return (
        series.device.type == "cpu"
        and series.dtype in (torch.float32, torch.float64)
        and not torch.compiler.is_compiling()
        and _numba.available()
    )


@cache
def _kernels() -> Any:
    """:mod:`deepalloc.layers.pooling_kernels` (which imports numba), on first use."""
    from deepalloc.layers import pooling_kernels

    return pooling_kernels


class _AttentionPool(torch.autograd.Function):
    """Attention pooling of time-major series (time, n, channel) -> (n, channel), with a
    hand-written backward of a few whole-tensor operations.

    Written with autograd's own ops (an ``einsum`` over the (batch, channel, asset,
    time) view), forward and backward ran ``batch x asset`` tiny matrix products
    over strided copies and took a fifth of a recurrent network's training step;
    here every operation is one pass over contiguous memory. With ``g = dL/dout``:
    ``dL/dw_t = x_t . g``, ``dL/dlogit = w (dL/dw - sum_t w dL/dw)`` (softmax),
    ``dL/dx_t = w_t g + dL/dlogit_t score``, ``dL/dscore = sum dL/dlogit x`` and
    ``dL/dbias = sum dL/dlogit``. First-order only: a second derivative raises
    (``once_differentiable``) rather than treating the softmax weights as constants.

    With numba installed (the ``fast`` extra), both passes run compiled instead
    (:mod:`deepalloc.layers.pooling_kernels`): one read of the series per pass and no
    temporary as large as it; the same formulas, sums accumulated in float64.
    """

    @staticmethod
    def forward(ctx: Any, series: torch.Tensor, score: torch.Tensor, bias: torch.Tensor) -> Any:
        series = series.contiguous()
        t, n, c = series.shape
        ctx.compiled = _compiles(series)
        if ctx.compiled:
            out = series.new_empty(n, c)
            weights = series.new_empty(t, n)
            _kernels().forward(
                series.numpy(),
                score.detach().contiguous().numpy(),
                float(bias),
                out.numpy(),
                weights.numpy(),
            )
        else:
            logits = torch.addmv(bias, series.view(t * n, c), score).view(t, n)
            weights = torch.softmax(logits, dim=0)
            out = (series * weights[:, :, None]).sum(0)
        ctx.save_for_backward(series, score, weights)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        series, score, weights = ctx.saved_tensors
        t, n, c = series.shape
        if ctx.compiled:
            grad_series = torch.empty_like(series)
            grad_score = score.new_empty(c)
            grad_bias = _kernels().backward(
                series.numpy(), score.detach().contiguous().numpy(), weights.numpy(),
                grad.contiguous().numpy(), grad_series.numpy(), grad_score.numpy(),
            )  # fmt: skip
            return grad_series, grad_score, score.new_tensor(grad_bias)
        grad_w = torch.bmm(grad[:, None, :], series.permute(1, 2, 0)).view(n, t).T  # (t, n)
        grad_logits = weights * (grad_w - (weights * grad_w).sum(0, keepdim=True))
        grad_series = (weights[:, :, None] * grad).addcmul_(grad_logits[:, :, None], score)
        grad_score = grad_bias = None
        if ctx.needs_input_grad[1]:
            grad_score = (grad_logits.reshape(1, t * n) @ series.view(t * n, c)).view(c)
        if ctx.needs_input_grad[2]:
            grad_bias = grad_logits.sum()
        return grad_series, grad_score, grad_bias


class TimePool(nn.Module):
    """Pool over time.

    Parameters
    ----------
    mode
        ``"last"`` (the last step), ``"mean"``, ``"max"``, ``"attention"`` (softmax
        weights over time from a learned linear score of the channels, needs
        ``n_channels``), or ``"exp_decay"`` (weights ``exp(-rate * age)`` normalised,
        with a learnable ``rate = softplus(raw)`` that receives gradients).
    n_channels
        Channels of the input (for ``"attention"``).
    initial_rate
        Starting decay rate per step for ``"exp_decay"``.
    """

    def __init__(
        self,
        mode: Literal["last", "mean", "max", "attention", "exp_decay"] = "last",
        *,
        n_channels: int | None = None,
        initial_rate: float = 0.1,
    ):
        super().__init__()
        check_choice("mode", mode, POOL_MODES)
        self.mode = mode
        if mode == "attention":
            if n_channels is None:
                raise ValueError(
                    "n_channels: expected the number of channels for attention, got None"
                )
            self.score = nn.Linear(n_channels, 1)
        if mode == "exp_decay":
            # softplus^-1(initial_rate)
            self.raw_rate = nn.Parameter(torch.tensor(float(initial_rate)).expm1().log())

    @property
    def rate(self) -> torch.Tensor:
        """Decay rate per step (``"exp_decay"`` only)."""
        return F.softplus(self.raw_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, channel, asset)."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        if self.mode == "last":
            return x[..., -1]
        if self.mode == "mean":
            return x.mean(-1)
        if self.mode == "max":
            return x.amax(-1)
        if self.mode == "attention":
            return attention_pool(x, self.score.weight[0], self.score.bias[0])
        age = torch.arange(x.shape[-1] - 1, -1, -1, dtype=x.dtype, device=x.device)
        weights = torch.softmax(-self.rate.to(x.dtype) * age, dim=0)
        return (x * weights).sum(-1)
