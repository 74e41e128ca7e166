"""Risk-budgeting portfolios: risk contributions equal to target budgets.

For a covariance ``C = S' S`` and budgets ``b`` (positive, summing to one), the
long-only portfolio whose relative risk contributions ``w_i (C w)_i / (w' C w)`` equal
``b_i`` is ``w = y / sum(y)`` where ``y`` minimises the strictly convex log-barrier
problem ``f(y) = 1/2 y' C y - sum_i b_i log y_i`` (Spinu, 2013, "An algorithm for
computing risk parity weights"); its optimality condition is ``y_i (C y)_i = b_i``.

The solver is Spinu's damped Newton method, which converges from any start for every
positive definite ``C``: ``f / min(b)`` is self-concordant (each barrier term
``(b_i / min b) (-log y_i)`` has a coefficient >= 1 and the quadratic adds none), so
the Newton step scaled by ``1 / (1 + lambda)``, with ``lambda`` the Newton decrement of
``f / min(b)``, stays inside ``y > 0`` and lowers ``f`` by a fixed amount while
``lambda`` is large, and full Newton steps converge quadratically once
``lambda < DAMPED_ABOVE`` (Nesterov, *Lectures on Convex Optimization*, section 5.1).
No objective value is compared, so rounding near the optimum cannot stall it (a
backtracking line search on ``f`` can: near the optimum the decrease it tests for is
below the rounding of ``f``). Every sample of the batch is solved at once; converged
samples leave the batch.

The backward pass differentiates the optimality condition ``C y = b / y`` implicitly:
``(C + diag(b / y^2)) dy = -dC y``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deepalloc._checks import check_finite, check_ndim, check_positive_int
from deepalloc._recording import Recorded
from deepalloc.errors import SolverError

DAMPED_ABOVE = 0.25
"""Newton decrement (of ``f / min(b)``) above which steps are damped by ``1 / (1 + lambda)``;
below ``(3 - sqrt 5) / 2 ~ 0.38`` full steps converge quadratically, 0.25 keeps a margin."""

LINE_SEARCH_STEPS = 12
"""Step lengths ``1, 1/2, ..., 1/2^11`` tried by the line search; shorter ones would fall
below the damped step ``1 / (1 + lambda)`` for any decrement under 2000."""

ARMIJO = 1e-4
"""Armijo's sufficient-decrease fraction (the usual textbook value)."""

ROUNDING_FACTOR = 8
"""Multiple of ``n eps y_i (|C| y)_i``, the rounding error of ``y_i (C y)_i``, allowed in
the convergence test on top of ``tol``: the test must be attainable in floating point."""


def _matvec(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.bmm(m, v.unsqueeze(-1)).squeeze(-1)


def _converged(cov: torch.Tensor, y: torch.Tensor, b: torch.Tensor, tol: float) -> torch.Tensor:
    """Samples (batch,) whose ``y_i (C y)_i`` equal ``b_i`` to ``tol`` relative, plus rounding."""
    rounding = ROUNDING_FACTOR * y.shape[-1] * torch.finfo(y.dtype).eps
    slack = tol * b + rounding * y * _matvec(cov.abs(), y)
    return ((y * _matvec(cov, y) - b).abs() <= slack).all(-1)


def _objective(cov: torch.Tensor, y: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``f(y) = 1/2 y'Cy - sum b log y`` for points y (batch, k, n): (batch, k); inf off y > 0."""
    quad = 0.5 * (y * (y @ cov)).sum(-1)  # C is symmetric
    inside = (y > 0).all(-1)
    barrier = (b[:, None, :] * torch.where(y > 0, y, torch.ones_like(y)).log()).sum(-1)
    return torch.where(inside, quad - barrier, torch.full_like(quad, float("inf")))


def _newton_direction(
    cov: torch.Tensor, y: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Newton step (batch, n), directional derivative ``-lambda_f^2`` and Newton decrement
    of ``f / min(b)`` (batch,) at ``y``."""
    grad = _matvec(cov, y) - b / y
    hess = cov + torch.diag_embed(b / y**2)
    chol, info = torch.linalg.cholesky_ex(hess)
    if bool((info > 0).any()):  # C + diag(b / y^2) is positive definite if C is PSD
        # (numerically it stops being so only as y runs off along a null direction of C)
        bad = torch.nonzero(info > 0).flatten().tolist()
        raise SolverError(
            f"risk budgeting: expected a positive definite covariance, got a singular or "
            f"indefinite one in samples {bad}",
            bad,
        )
    step = -torch.cholesky_solve(grad.unsqueeze(-1), chol).squeeze(-1)
    slope = (grad * step).sum(-1)
    return step, slope, (-slope.clamp(max=0) / b.amin(-1)).sqrt()


def _newton_update(
    cov: torch.Tensor,
    y: torch.Tensor,
    b: torch.Tensor,
    step: torch.Tensor,
    slope: torch.Tensor,
    decrement: torch.Tensor,
) -> torch.Tensor:
    """``y`` moved along its Newton step (module docstring).

    Where the decrement is below :data:`DAMPED_ABOVE`, the full step. Elsewhere the
    longest of ``1, 1/2, 1/4, ...`` (:data:`LINE_SEARCH_STEPS` of them) that stays
    inside ``y > 0`` and passes Armijo's test on ``f``, but never shorter than the
    damped step ``1 / (1 + lambda)``, whose decrease self-concordance guarantees (so the
    line search only ever speeds the method up).
    """
    damped = 1 / (1 + decrement)
    ladder = 0.5 ** torch.arange(LINE_SEARCH_STEPS, dtype=y.dtype, device=y.device)
    trial = y[:, None, :] + ladder[None, :, None] * step[:, None, :]
    f0 = _objective(cov, y[:, None, :], b)
    armijo = _objective(cov, trial, b) <= f0 + ARMIJO * ladder[None, :] * slope[:, None]
    searched = torch.where(armijo.any(-1), ladder[armijo.to(torch.int8).argmax(-1)], damped)
    t = torch.where(decrement > DAMPED_ABOVE, torch.maximum(searched, damped), 1.0)
    # in exact arithmetic the damped and full steps never leave y > 0; guard rounding
    to_boundary = torch.where(step < 0, -0.99 * y / step, torch.full_like(y, float("inf")))
    t = torch.minimum(t, to_boundary.amin(-1))
    return y + t[:, None] * step


def solve_risk_budgeting(
    cov: torch.Tensor, b: torch.Tensor, *, max_iter: int = 100, tol: float = 1e-12
) -> torch.Tensor:
    """Minimiser ``y`` (batch, n) of ``1/2 y'Cy - sum b log y`` by Spinu's damped Newton method.

    Parameters
    ----------
    cov
        Positive definite covariances ``C``, shape (batch, n, n).
    b
        Positive budgets summing to one, shape (batch, n).
    max_iter
        Most Newton steps.
    tol
        Relative tolerance on ``y_i (C y)_i = b_i`` (never below 50 machine epsilons).

    Returns
    -------
    torch.Tensor
        ``y`` of shape (batch, n), positive (no gradient: see the allocator).

    Raises
    ------
    SolverError
        If some samples do not converge within ``max_iter`` steps (their covariance is
        then singular, or not a covariance), naming them.
    """
    tol = max(tol, 50 * torch.finfo(cov.dtype).eps)
    y = b / torch.diagonal(cov, dim1=-2, dim2=-1).sqrt()
    y = y * (b.sum(-1) / (y * _matvec(cov, y)).sum(-1)).sqrt()[:, None]  # y'Cy = sum(b)
    running = torch.arange(cov.shape[0], device=cov.device)
    for iteration in range(max_iter + 1):
        c_r, y_r, b_r = cov[running], y[running], b[running]
        step, slope, decrement = _newton_direction(c_r, y_r, b_r)
        # converged: the condition holds and Newton's method is in its quadratic phase
        # (iterates running off to infinity along a null direction of a singular C
        # keep a decrement near sqrt(2), and could pass the rounding allowance)
        done = _converged(c_r, y_r, b_r, tol) & (decrement <= DAMPED_ABOVE)
        keep = ~done
        running = running[keep]
        if len(running) == 0:
            return y
        if iteration == max_iter:
            break
        y = y.index_copy(
            0,
            running,
            _newton_update(
                c_r[keep], y_r[keep], b_r[keep], step[keep], slope[keep], decrement[keep]
            ),
        )
    failed = running.tolist()
    raise SolverError(
        f"risk budgeting: expected Newton's method to converge within {max_iter} steps, got "
        f"samples {failed} unconverged (is the covariance positive definite?)",
        failed,
    )


class _RiskBudgetFunction(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, cov: torch.Tensor, b: torch.Tensor, max_iter: int, tol: float
    ) -> torch.Tensor:
        y = solve_risk_budgeting(cov, b, max_iter=max_iter, tol=tol)
        ctx.save_for_backward(cov, y, b)
        return y

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> tuple[Any, ...]:
        cov, y, b = ctx.saved_tensors
        hess = cov + torch.diag_embed(b / y**2)
        a = torch.cholesky_solve(grad_y.unsqueeze(-1), torch.linalg.cholesky(hess)).squeeze(-1)
        grad_cov = -0.5 * (a[:, :, None] * y[:, None, :] + y[:, :, None] * a[:, None, :])
        return grad_cov, None, None, None


class RiskBudgetingAllocator(Recorded, nn.Module):
    """Long-only portfolios whose risk contributions equal ``budgets``.

    Converges on every positive definite covariance (see the module docstring).

    Parameters
    ----------
    budgets
        Target risk contributions (asset,), positive; normalised to sum to one.
        ``None`` gives equal risk contributions for any number of assets.
    max_iter, tol
        Newton steps and relative tolerance on the risk contributions.
    """

    inputs = ("cov_sqrt",)

    def __init__(
        self, budgets: torch.Tensor | None = None, *, max_iter: int = 100, tol: float = 1e-12
    ):
        super().__init__()
        if budgets is not None:
            budgets = torch.as_tensor(budgets)
            if (
                budgets.ndim != 1
                or not bool(torch.isfinite(budgets).all())
                or bool((budgets <= 0).any())
            ):
                raise ValueError(
                    f"budgets: expected a 1-d tensor of positive values, got {budgets}"
                )
            budgets = budgets / budgets.sum()
        check_positive_int("max_iter", max_iter)
        if not tol > 0:
            raise ValueError(f"tol: expected a positive number, got {tol!r}")
        self.budgets: torch.Tensor | None
        self.register_buffer("budgets", budgets)
        self.max_iter, self.tol = max_iter, tol

    def forward(self, cov_sqrt: torch.Tensor) -> torch.Tensor:
        """Covariance square roots (batch, asset, asset) -> weights (batch, asset)."""
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        b, n = cov_sqrt.shape[:2]
        if cov_sqrt.shape[2] != n:
            raise ValueError(
                f"cov_sqrt: expected square matrices (batch, asset, asset), got shape "
                f"{tuple(cov_sqrt.shape)}"
            )
        target: torch.Tensor | None = self.budgets
        if target is not None and target.shape[0] != n:
            raise ValueError(f"cov_sqrt: expected {target.shape[0]} assets, got {n}")
        check_finite("cov_sqrt", cov_sqrt)
        if target is None:
            budgets = torch.full((b, n), 1.0 / n, dtype=cov_sqrt.dtype, device=cov_sqrt.device)
        else:
            budgets = target.to(cov_sqrt).expand(b, n)
        cov = cov_sqrt.transpose(1, 2) @ cov_sqrt
        y = _RiskBudgetFunction.apply(cov, budgets, self.max_iter, self.tol)
        return y / y.sum(-1, keepdim=True)
