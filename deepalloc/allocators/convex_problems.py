"""The declarative problems of :class:`~deepalloc.allocators.convex.ConvexAllocator`
and the default solver of each objective.

:class:`Constraints` holds the constraint options; it checks at construction that they
can be met at all, builds the DPP problem of each objective, and measures, batched in
torch, how far returned weights violate them (one reduction per constraint, no loop
over samples). Part of the convex allocator, with :mod:`~deepalloc.allocators.convex`
the only modules importing cvxpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import torch

from deepalloc._checks import check_feasible_cap

Objective = Literal[
    "mean_variance", "min_variance", "max_return", "max_entropy", "risk_budgeting", "max_sharpe"
]

OBJECTIVE_INPUTS: dict[str, tuple[str, ...]] = {
    "mean_variance": ("mu", "cov_sqrt", "gamma", "alpha"),
    "min_variance": ("cov_sqrt", "alpha"),
    "max_return": ("mu", "cov_sqrt"),
    "max_entropy": ("mu",),
    "risk_budgeting": ("cov_sqrt",),
    "max_sharpe": ("mu", "cov_sqrt"),
}
"""The inputs each objective's ``forward`` takes, in order (``mu`` before ``cov_sqrt``)."""
NORMALISED = ("risk_budgeting", "max_sharpe")
"""Objectives solved for an unnormalised ``y`` whose normalisation ``y / sum(y)`` is the
portfolio; they take no weight constraints."""

Group = tuple[Sequence[int], float]


def as_bounds(value: float | Sequence[float] | None, n: int, name: str) -> np.ndarray | None:
    """Per-asset bounds (n,) from a scalar or a sequence; ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    except ValueError as err:
        raise ValueError(f"{name}: expected a scalar or {n} bounds, got {value}") from err
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite bounds, got {value}")
    return arr


@dataclass
class Constraints:
    """Weight constraints of a declarative problem (see ``ConvexAllocator``'s parameters)."""

    n: int
    budget: float | None = 1.0
    long_only: bool = True
    lower: np.ndarray | None = None
    upper: np.ndarray | None = None
    gross_leverage: float | None = None
    groups: Sequence[Group] = field(default_factory=list)
    turnover: float | None = None
    risk_limit: float | None = None

    def __post_init__(self) -> None:
        for indices, _ in self.groups:
            idx = list(indices)
            if not idx or min(idx) < 0 or max(idx) >= self.n:
                raise ValueError(f"groups: expected asset indices in [0, {self.n}), got {idx}")
        for name in ("gross_leverage", "turnover", "risk_limit"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: expected a finite non-negative number, got {value}")

    @property
    def any(self) -> bool:
        """Whether any constraint beyond the budget and long-only is set."""
        limits = (self.lower, self.upper, self.gross_leverage, self.turnover, self.risk_limit)
        return any(v is not None for v in limits) or bool(self.groups)

    def floor(self) -> np.ndarray:
        """Effective lower bounds (n,): ``lower``, at least 0 when long only, else -inf."""
        low = np.full(self.n, -np.inf) if self.lower is None else self.lower
        return np.maximum(low, 0.0) if self.long_only else low

    def ceiling(self) -> np.ndarray:
        """Effective upper bounds (n,): ``upper`` or +inf."""
        return np.full(self.n, np.inf) if self.upper is None else self.upper

    def check_feasible(self, max_weight: float | None) -> None:
        """Raise ``ValueError`` if no weights meet the parameter-free constraints.

        The bounds must not cross, and the budget must lie between the sums of the lower
        and of the upper bounds (a cap: ``max_weight x n_assets >= budget``).
        """
        low, high = self.floor(), self.ceiling()
        if (low > high).any():
            raise ValueError(f"lower, upper: expected lower <= upper, got {low} and {high}")
        if self.budget is None:
            return
        if max_weight is not None and self.budget == 1.0:
            check_feasible_cap(self.n, max_weight)
        if not low.sum() - 1e-12 <= self.budget <= high.sum() + 1e-12:
            raise ValueError(
                f"budget: expected a value between the sums of the lower and upper bounds "
                f"[{low.sum():g}, {high.sum():g}], got {self.budget}"
            )
        if self.gross_leverage is not None and abs(self.budget) > self.gross_leverage:
            raise ValueError(
                f"gross_leverage: expected at least |budget| = {abs(self.budget)}, got "
                f"{self.gross_leverage}"
            )

    def cvxpy(self, w: cp.Variable) -> tuple[list[Any], list[cp.Parameter]]:
        """The constraints on ``w`` and the parameters they add (previous weights)."""
        out: list[Any] = []
        if self.budget is not None:
            out.append(cp.sum(w) == self.budget)
        if self.long_only:
            out.append(w >= 0)
        if self.lower is not None:
            out.append(w >= self.lower)
        if self.upper is not None:
            out.append(w <= self.upper)
        if self.gross_leverage is not None:
            out.append(cp.norm1(w) <= self.gross_leverage)
        for indices, limit in self.groups:
            idx = list(indices)
            out += [cp.sum(w[idx]) <= limit, cp.sum(w[idx]) >= -limit]
        extra: list[cp.Parameter] = []
        if self.turnover is not None:
            previous = cp.Parameter(self.n, name="previous_weights")
            out.append(cp.norm1(w - previous) <= self.turnover)
            extra.append(previous)
        return out, extra

    def violation(self, w: torch.Tensor, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """Largest violation of any constraint by weights w (batch, n), per sample (batch,).

        ``values`` are the forward's inputs (float64, CPU): ``cov_sqrt`` (and ``gamma``)
        for a risk limit, ``previous_weights`` for a turnover limit.
        """
        zero = torch.zeros(w.shape[0], dtype=w.dtype)
        parts = [zero]
        if self.budget is not None:
            parts.append((w.sum(-1) - self.budget).abs())
        low, high = torch.as_tensor(self.floor()), torch.as_tensor(self.ceiling())
        parts.append((low - w).clamp_min(0).amax(-1))
        parts.append((w - high).clamp_min(0).amax(-1))
        if self.gross_leverage is not None:
            parts.append((w.abs().sum(-1) - self.gross_leverage).clamp_min(0))
        for indices, limit in self.groups:
            parts.append((w[:, list(indices)].sum(-1).abs() - limit).clamp_min(0))
        if self.turnover is not None:
            moved = (w - values["previous_weights"]).abs().sum(-1)
            parts.append((moved - self.turnover).clamp_min(0))
        if self.risk_limit is not None:
            vol = torch.linalg.vector_norm(
                torch.bmm(values["cov_sqrt"], w.unsqueeze(-1)).squeeze(-1), dim=-1
            )
            parts.append((vol - self.risk_limit).clamp_min(0))
        return torch.stack(parts, -1).amax(-1)


def build_problem(
    w: cp.Variable,
    objective: str,
    constraints: Constraints,
    budgets: Sequence[float] | None,
) -> tuple[cp.Problem, list[cp.Parameter]]:
    """The DPP problem of ``objective`` under ``constraints`` and its parameters, in the
    order of :data:`OBJECTIVE_INPUTS` (``cov_sqrt`` enters as ``sqrt(gamma) S`` and
    ``alpha`` as ``sqrt(alpha)``, which keeps the problem DPP)."""
    n = constraints.n
    mu = cp.Parameter(n, name="mu")
    risk = cp.Parameter((n, n), name="risk")  # sqrt(gamma) * S
    ridge = cp.Parameter(nonneg=True, name="ridge")  # sqrt(alpha)
    if objective in NORMALISED and constraints.any:
        raise ValueError(
            f"objective: expected no extra constraints with {objective!r} (its solution "
            "is normalised afterwards), got some"
        )
    if objective == "max_sharpe":
        problem = cp.Problem(cp.Minimize(cp.sum_squares(risk @ w)), [mu @ w == 1, w >= 0])
        return problem, [mu, risk]
    if objective == "risk_budgeting":
        b = np.full(n, 1.0 / n) if budgets is None else np.asarray(budgets, float)
        if b.shape != (n,) or not (b > 0).all():
            raise ValueError(f"budgets: expected {n} positive values, got {budgets}")
        b = b / b.sum()
        problem = cp.Problem(
            cp.Minimize(0.5 * cp.sum_squares(risk @ w) - b @ cp.log(w)), [w >= 1e-12]
        )
        return problem, [risk]
    cons, extra = constraints.cvxpy(w)
    if objective == "mean_variance":
        obj: cp.Minimize | cp.Maximize = cp.Maximize(
            mu @ w - cp.sum_squares(risk @ w) - cp.sum_squares(ridge * w)
        )
        params = [mu, risk, ridge]
    elif objective == "min_variance":
        obj = cp.Minimize(cp.sum_squares(risk @ w) + cp.sum_squares(ridge * w))
        params = [risk, ridge]
    elif objective == "max_return":
        if constraints.risk_limit is None:
            raise ValueError("risk_limit: expected a volatility cap for 'max_return', got None")
        cons.append(cp.norm(risk @ w, 2) <= constraints.risk_limit)
        obj = cp.Maximize(mu @ w)
        params = [mu, risk]
    else:  # max_entropy
        obj = cp.Maximize(mu @ w + cp.sum(cp.entr(w)))
        params = [mu]
    return cp.Problem(obj, cons), params + extra


SCS_ARGS: dict[str, Any] = {
    "solve_method": "SCS",
    "eps_abs": 1e-10,
    "eps_rel": 1e-10,
    "max_iters": 200_000,
    "mode": "dense",
}
"""Default diffcp arguments of the SCS objectives (see the accuracy table of
:mod:`deepalloc.allocators.convex`)."""
CLARABEL_ARGS: dict[str, Any] = {
    "solve_method": "Clarabel",
    "tol_gap_abs": 1e-12,
    "tol_gap_rel": 1e-12,
    "tol_feas": 1e-12,
    "mode": "dense",
}
"""Default diffcp arguments of the ``max_entropy`` objective (Clarabel)."""
DEFAULT_SOLVER_ARGS = SCS_ARGS
"""Solver arguments of every objective but ``max_entropy`` and of builder problems."""

OBJECTIVE_SOLVER_ARGS: dict[str, dict[str, Any]] = {"max_entropy": CLARABEL_ARGS}


def solver_args_for(
    objective: str | None, solver: str | None, solver_args: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The user's solver arguments merged over the objective's defaults (same solver)."""
    if solver is not None:
        return dict(solver_args or {})
    defaults = OBJECTIVE_SOLVER_ARGS.get(objective or "", DEFAULT_SOLVER_ARGS)
    method = (solver_args or {}).get("solve_method", defaults["solve_method"])
    if method.lower() != defaults["solve_method"].lower():
        defaults = {"mode": "dense"}  # another solver's tolerances mean nothing here
    return {**defaults, **(solver_args or {})}
