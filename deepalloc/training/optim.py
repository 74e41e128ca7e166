"""Optimizers, schedules and parameter penalties as small objects handed to ``fit``.

``fit`` takes an optimizer *factory* (``params -> torch.optim.Optimizer``), for example
``functools.partial(torch.optim.AdamW, lr=3e-3, weight_decay=1e-4)``, and optionally a
scheduler factory (``optimizer -> scheduler``, stepped once per epoch), for example
``functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10)``. Both pickle, so
suites can ship them to parallel workers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import nn

OptimizerFactory = Callable[[Iterable[torch.Tensor]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], object]

DEFAULT_OPTIMIZER: OptimizerFactory = functools.partial(torch.optim.Adam, lr=1e-3, foreach=True)
"""Adam with learning rate 1e-3 and betas (0.9, 0.999), updating all parameters with
multi-tensor (``foreach``) kernels: the same steps to the bit as the per-parameter loop
PyTorch uses by default on the CPU, in about two thirds of the time for the ready
networks (a few dozen small tensors). ``fused=True`` would be faster still but rounds
differently."""


class ParameterPenalty:
    """Explicit L1/L2 penalties on a network's parameters, added to the training loss.

    Parameters
    ----------
    l1, l2
        Weights of ``sum |p|`` and ``sum p^2``.
    only
        Penalise only the parameters whose names contain one of these strings
        (default: every parameter).
    """

    def __init__(self, *, l1: float = 0.0, l2: float = 0.0, only: Sequence[str] | None = None):
        if l1 < 0 or l2 < 0:
            raise ValueError(f"l1, l2: expected non-negative weights, got {l1}, {l2}")
        self.l1, self.l2 = l1, l2
        self.only = None if only is None else tuple(only)

    def __call__(self, network: nn.Module) -> torch.Tensor:
        """The penalty of ``network``'s selected parameters (a scalar tensor)."""
        params = [
            p
            for name, p in network.named_parameters()
            if self.only is None or any(key in name for key in self.only)
        ]
        total = torch.zeros(())
        if params:
            total = total.to(params[0])
        for p in params:
            if self.l1:
                total = total + self.l1 * p.abs().sum()
            if self.l2:
                total = total + self.l2 * (p**2).sum()
        return total

    def __repr__(self) -> str:
        return f"ParameterPenalty(l1={self.l1!r}, l2={self.l2!r}, only={self.only!r})"
