"""The batched QP solver's warm start: accelerated projected gradient (FISTA).

A few FISTA steps (Beck and Teboulle, "A fast iterative shrinkage-thresholding algorithm
for linear inverse problems", SIAM J. Imaging Sci. 2(1), 2009) on the feasible set,
with the exact projection onto each budget group's box-constrained simplex and the step
``1 / L`` from an estimate of the largest eigenvalue ``L`` of ``P``, guess which
coordinates sit at their bounds; the active-set iterations of
:mod:`deepalloc.allocators.qp` start from that guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from deepalloc.allocators.qp_kkt import BoxQP, keep_one_free, matvec
from deepalloc.functional.simplex import box_simplex_threshold

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


def project_groups(
    z: torch.Tensor, totals: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor, groups: int
) -> torch.Tensor:
    """Exact projection of every group onto its box-constrained simplex (no autograd)."""
    b, n = z.shape
    m = n // groups
    zg, lo, hi = (
        z.reshape(b * groups, m),
        lower.reshape(b * groups, m),
        upper.reshape(b * groups, m),
    )
    tau = box_simplex_threshold(zg, totals.reshape(b * groups), lo, hi)
    return torch.minimum(torch.maximum(zg - tau[:, None], lo), hi).reshape(b, n)


def largest_eigenvalue(p: torch.Tensor, steps: int = POWER_STEPS) -> torch.Tensor:
    """Upper estimate of the largest eigenvalue of symmetric PSD matrices (batch, n, n).

    A few power iterations, inflated by :data:`POWER_INFLATION`, and never above the
    trace (a bound for PSD matrices that costs no pass over P).
    """
    v = torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    for _ in range(steps):
        v = matvec(p, v)
        v = v / v.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(p.dtype).tiny)
    rayleigh = (v * matvec(p, v)).sum(-1)
    trace = torch.diagonal(p, dim1=-2, dim2=-1).sum(-1)
    return torch.minimum(POWER_INFLATION * rayleigh, trace).clamp_min(torch.finfo(p.dtype).tiny)


@dataclass
class WarmStartQP(BoxQP):
    """A batch of QPs with the step size of its projected-gradient warm start."""

    lipschitz: torch.Tensor

    def index(self, idx: torch.Tensor) -> WarmStartQP:
        return WarmStartQP(**vars(super().index(idx)), lipschitz=self.lipschitz[idx])

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return project_groups(z, self.totals, self.lower, self.upper, self.groups)

    def fista(self, x: torch.Tensor, steps: int, check_every: int) -> torch.Tensor:
        """Accelerated projected-gradient steps from ``x``; stop once the pattern of
        coordinates at their bounds is the same at two checks ``check_every`` steps apart."""
        v, t = x, 1.0
        pattern = self.pattern(x)
        for step in range(1, steps + 1):
            x_new = self.project(v - (matvec(self.p, v) - self.q) / self.lipschitz)
            t_new = (1 + (1 + 4 * t * t) ** 0.5) / 2
            v = x_new + (t - 1) / t_new * (x_new - x)
            x, t = x_new, t_new
            if step % check_every == 0:
                new_pattern = self.pattern(x)
                if bool((new_pattern == pattern).all()):
                    break
                pattern = new_pattern
        return x

    def pattern(self, x: torch.Tensor) -> torch.Tensor:
        """-1 at the upper bound, 1 at the lower bound, 0 free."""
        span = (self.upper - self.lower).clamp_min(0)
        near = max(BOUND_NEAR, 4 * torch.finfo(x.dtype).eps) * (1 + span)
        return (x <= self.lower + near).to(torch.int8) - (x >= self.upper - near).to(torch.int8)

    def bound_sets(self, x: torch.Tensor, a_mat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pattern = self.pattern(x)
        return keep_one_free(
            pattern == 1,
            pattern == -1,
            self.q - matvec(self.p, x),
            self.totals - x @ a_mat.T,
            self.groups,
        )
