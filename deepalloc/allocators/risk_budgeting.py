"""Risk-budgeting portfolios: risk contributions equal to target budgets.

For a covariance ``C = S' S`` and budgets ``b`` (positive, summing to one), the
long-only portfolio whose relative risk contributions ``w_i (C w)_i / (w' C w)`` equal
``b_i`` is ``w = y / sum(y)`` where ``y`` minimises the strictly convex
``1/2 y' C y - sum_i b_i log y_i`` (Spinu, 2013). Newton's method solves it to machine
precision for every sample at once; the backward pass differentiates the optimality
condition ``C y = b / y`` implicitly.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepalloc._checks import check_ndim
from deepalloc.errors import SolverError


def _objective(cov: torch.Tensor, y: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return 0.5 * (y * torch.bmm(cov, y.unsqueeze(-1)).squeeze(-1)).sum(-1) - (b * y.log()).sum(-1)


class _RiskBudgetFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, cov: torch.Tensor, b: torch.Tensor, max_iter: int, tol: float
    ) -> torch.Tensor:
        tol = max(tol, 50 * torch.finfo(cov.dtype).eps)
        diag = torch.diagonal(cov, dim1=-2, dim2=-1)
        y = b / diag.sqrt()
        # scale so that y' C y = sum(b), which holds at the optimum
        y = (
            y
            * (b.sum(-1) / (y * torch.bmm(cov, y.unsqueeze(-1)).squeeze(-1)).sum(-1)).sqrt()[
                :, None
            ]
        )
        for _ in range(max_iter):
            grad = torch.bmm(cov, y.unsqueeze(-1)).squeeze(-1) - b / y
            hess = cov + torch.diag_embed(b / y**2)
            step = -torch.cholesky_solve(grad.unsqueeze(-1), torch.linalg.cholesky(hess)).squeeze(
                -1
            )
            # stay inside y > 0, then backtrack on the objective
            shrink = torch.where(step < 0, -0.99 * y / step, torch.full_like(y, float("inf")))
            t = shrink.amin(-1).clamp(max=1.0)
            f0 = _objective(cov, y, b)
            slope = (grad * step).sum(-1)
            for _ in range(30):
                trial = y + t[:, None] * step
                bad = _objective(cov, trial, b) > f0 + 1e-4 * t * slope
                if not bool(bad.any()):
                    break
                t = torch.where(bad, t / 2, t)
            y = y + t[:, None] * step
            if bool((grad.abs() * y <= tol * b).all()):
                break
        grad = torch.bmm(cov, y.unsqueeze(-1)).squeeze(-1) - b / y
        failed = torch.nonzero(~(grad.abs() * y <= 1e3 * tol * b).all(-1)).flatten().tolist()
        if failed:
            raise SolverError(
                f"risk budgeting: expected Newton's method to converge, got samples {failed} "
                "unconverged (is the covariance positive definite?)",
                failed,
            )
        ctx.save_for_backward(cov, y, b)
        return y

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[Any, ...]:
        cov, y, b = ctx.saved_tensors
        hess = cov + torch.diag_embed(b / y**2)
        a = torch.cholesky_solve(grad_y.unsqueeze(-1), torch.linalg.cholesky(hess)).squeeze(-1)
        grad_cov = -0.5 * (a[:, :, None] * y[:, None, :] + y[:, :, None] * a[:, None, :])
        return grad_cov, None, None, None


class RiskBudgetingAllocator(nn.Module):
    """Long-only portfolios whose risk contributions equal ``budgets``.

    Parameters
    ----------
    budgets
        Target risk contributions (asset,), positive; normalised to sum to one.
        ``None`` gives equal risk contributions for any number of assets.
    max_iter, tol
        Newton iterations and tolerance on the scaled optimality condition.
    """

    inputs = ("cov_sqrt",)

    def __init__(
        self, budgets: torch.Tensor | None = None, *, max_iter: int = 50, tol: float = 1e-12
    ):
        super().__init__()
        if budgets is not None:
            budgets = torch.as_tensor(budgets)
            if budgets.ndim != 1 or bool((budgets <= 0).any()):
                raise ValueError(
                    f"budgets: expected a 1-d tensor of positive values, got {budgets}"
                )
            budgets = budgets / budgets.sum()
        self.budgets: torch.Tensor | None
        self.register_buffer("budgets", budgets)
        self.max_iter, self.tol = max_iter, tol

    def forward(self, cov_sqrt: torch.Tensor) -> torch.Tensor:
        """Covariance square roots (batch, asset, asset) -> weights (batch, asset)."""
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        b, n = cov_sqrt.shape[:2]
        target: torch.Tensor | None = self.budgets
        if target is None:
            budgets = torch.full((b, n), 1.0 / n, dtype=cov_sqrt.dtype, device=cov_sqrt.device)
        else:
            if target.shape[0] != n:
                raise ValueError(f"cov_sqrt: expected {target.shape[0]} assets, got {n}")
            budgets = target.to(cov_sqrt).expand(b, n)
        cov = cov_sqrt.transpose(1, 2) @ cov_sqrt
        y = _RiskBudgetFunction.apply(cov, budgets, self.max_iter, self.tol)
        return y / y.sum(-1, keepdim=True)
