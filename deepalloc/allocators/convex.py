"""General convex allocation layers on cvxpylayers (with :mod:`.convex_problems`, the only
modules importing cvxpy).

:class:`ConvexAllocator` builds a DPP problem either from declarative parts (an
objective and constraints, :mod:`~deepalloc.allocators.convex_problems`) or from a
user's builder function, and solves it for every sample with cvxpylayers (diffcp),
differentiably. cvxpylayers runs on the CPU in float64; the weights come back in the
inputs' dtype and device.

Solvers, chosen per objective (``solver_args`` overrides them), and the accuracy
measured at these defaults by ``benchmarks/bench_convex_accuracy.py`` on 18 random
problems of 5, 20 and 50 assets per objective: the largest absolute weight error
against the exact answer (the batched QP of :mod:`~deepalloc.allocators.qp` for
mean_variance, min_variance and, with the risk aversion found by bisection,
max_return; :class:`~deepalloc.allocators.RiskBudgetingAllocator`; the softmax and
capped softmax for max_entropy) or Clarabel at tolerance 1e-12 (max_sharpe), and the
median and largest relative error of gradients against the exact ones (or central
differences of the exact answer):

===============  ===================  ========  ====================
objective        solver               weights   gradients (median,
                                                largest)
===============  ===================  ========  ====================
mean_variance    SCS, eps 1e-10       3e-10     1e-7, 9e-5
min_variance     SCS, eps 1e-10       7e-10     2e-10, 1e-9
max_return       SCS, eps 1e-10       1e-10     4e-10, 1e-5
max_sharpe       SCS, eps 1e-10       2e-10     1e-9, 1e-6
risk_budgeting   SCS, eps 1e-10       1e-10     5e-8, 1e-7
max_entropy      Clarabel, 1e-12      5e-8      3e-7, 2e-2 (*)
===============  ===================  ========  ====================

(*) on a sample whose largest weight is 0.9995 (a gradient of norm 5e-5, off by 1e-6);
the tests allow 1e-6 on max_entropy weights (2e-7 seen) and 1e-7 on the others. SCS
cannot serve the entropy objective: its exponential-cone projection sets weights below
about 1e-4 to exactly zero (weights off by 3e-5 and gradients by up to 100% where the
optimum holds such weights); Clarabel, an interior-point method, keeps them positive.
SCS at its default tolerance is off by 1e-4 and its gradients by up to 70%; Clarabel
on the quadratic objectives stalls near 1e-6.

Failures: a solve that raises a solver error, or returns weights violating a
constraint by more than ``feasibility_tol`` (Clarabel, for one, returns a point without
an error on an infeasible problem), raises :class:`~deepalloc.errors.SolverError`
naming the samples, or with ``on_failure="equal_weight"`` gives those samples the
equal-weight portfolio ``budget / n`` (no gradient) and warns, but only where equal
weights meet every constraint (a cap, a sector limit, a turnover limit from the
sample's previous weights): otherwise it raises. Never NaN weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import cvxpy as cp
import numpy as np
import torch
from cvxpylayers.torch import CvxpyLayer
from diffcp import SolverError as DiffcpSolverError
from torch import nn

from deepalloc._checks import check_choice, check_finite, check_positive_int
from deepalloc._recording import Recorded
from deepalloc.allocators.convex_inputs import layer_inputs, parse_inputs
from deepalloc.allocators.convex_problems import (
    CLARABEL_ARGS,
    DEFAULT_SOLVER_ARGS,
    NORMALISED,
    OBJECTIVE_INPUTS,
    OBJECTIVE_SOLVER_ARGS,
    SCS_ARGS,
    Constraints,
    Group,
    Objective,
    as_bounds,
    build_problem,
    solver_args_for,
)
from deepalloc.errors import SolverError

__all__ = [
    "CLARABEL_ARGS",
    "DEFAULT_SOLVER_ARGS",
    "OBJECTIVE_SOLVER_ARGS",
    "SCS_ARGS",
    "SOLVER_ERRORS",
    "ConvexAllocator",
]

SOLVER_ERRORS: tuple[type[Exception], ...] = (DiffcpSolverError, np.linalg.LinAlgError)
"""Exceptions that mean a failed solve (diffcp's, and a singular derivative system);
anything else is a bug or a bad input and propagates."""

_DERIVATIVE_ARGS = ("mode", "n_jobs_forward", "n_jobs_backward")

Builder = Callable[[cp.Variable, Mapping[str, cp.Parameter]], cp.Problem]


class ConvexAllocator(Recorded, nn.Module):
    """A differentiable convex allocation layer.

    Parameters
    ----------
    n_assets
        Number of assets.
    objective
        ``"mean_variance"`` (maximise ``mu'w - gamma ||S w||^2 - alpha ||w||^2``),
        ``"min_variance"`` (minimise ``||S w||^2 + alpha ||w||^2``), ``"max_return"``
        (maximise ``mu'w`` with ``||S w|| <= risk_limit``), ``"max_entropy"``
        (maximise ``mu'w + entropy(w)``), ``"risk_budgeting"`` (the log-barrier
        problem whose normalised solution has risk contributions ``budgets``), or
        ``"max_sharpe"`` (long-only tangency: ``min ||S y||^2`` with ``mu'y = 1``,
        ``y >= 0``, normalised; needs some positive ``mu``). Ignored when ``builder``
        is given. See the module docstring for each one's solver and accuracy.
    budget
        ``sum(w) = budget``; ``None`` for no budget constraint.
    long_only
        ``w >= 0``.
    lower, upper
        Per-asset bounds (scalar or (n_assets,)); ``max_weight`` is an alias of ``upper``.
    gross_leverage
        ``sum |w| <= gross_leverage``.
    groups
        Sector or group exposure limits: ``[(asset indices, z), ...]`` meaning
        ``-z <= sum_{i in group} w_i <= z``.
    turnover
        ``sum |w - previous_weights| <= turnover``; ``forward`` then takes
        ``previous_weights`` (batch, asset).
    risk_limit
        Volatility cap ``||S w||``, for ``"max_return"`` only.
    budgets
        Risk budgets for ``"risk_budgeting"`` only (default equal).
    builder, parameters
        A custom problem: ``parameters`` maps names to shapes; ``builder(w, params)``
        receives the weight variable and a dict of ``cp.Parameter`` and returns a DPP
        ``cp.Problem``. ``forward`` then takes tensors in ``parameters`` order (or by
        name), each of shape ``(batch, *shape)`` or shape (shared by the batch).
    solver
        cvxpylayers' solver backend (``None``: diffcp, the default; see cvxpylayers
        for the others). With diffcp, ``solver_args["solve_method"]`` picks SCS,
        Clarabel or ECOS.
    solver_args
        Passed to the solver; with diffcp and the objective's default solver, merged
        over its defaults (:data:`SCS_ARGS`, :data:`CLARABEL_ARGS`), otherwise used as
        given (dense derivatives kept for diffcp).
    on_failure
        ``"raise"`` (default) or ``"equal_weight"`` (see the module docstring); equal
        weights that break a constraint without parameters (a cap, a sector limit, the
        leverage) make ``"equal_weight"`` an error at construction.
    feasibility_tol
        Largest constraint violation of returned weights accepted as a solve (loosen it
        together with the solver's tolerances).
    """

    layer: CvxpyLayer

    def __init__(
        self,
        n_assets: int,
        *,
        objective: Objective = "mean_variance",
        budget: float | None = 1.0,
        long_only: bool = True,
        lower: float | Sequence[float] | None = None,
        upper: float | Sequence[float] | None = None,
        max_weight: float | None = None,
        gross_leverage: float | None = None,
        groups: Sequence[Group] | None = None,
        turnover: float | None = None,
        risk_limit: float | None = None,
        budgets: Sequence[float] | None = None,
        builder: Builder | None = None,
        parameters: Mapping[str, tuple[int, ...]] | None = None,
        solver: str | None = None,
        solver_args: Mapping[str, Any] | None = None,
        on_failure: Literal["raise", "equal_weight"] = "raise",
        feasibility_tol: float = 1e-6,
    ):
        super().__init__()
        check_positive_int("n_assets", n_assets)
        check_choice("on_failure", on_failure, ("raise", "equal_weight"))
        if not feasibility_tol > 0:
            raise ValueError(f"feasibility_tol: expected a positive number, got {feasibility_tol}")
        self.n_assets, self.on_failure, self.feasibility_tol = n_assets, on_failure, feasibility_tol
        w = cp.Variable(n_assets, name="w")
        self.constraints: Constraints | None = None
        if builder is not None:
            if not parameters:
                raise ValueError("parameters: expected {name: shape} for the builder, got none")
            params = {k: cp.Parameter(tuple(v), name=k) for k, v in parameters.items()}
            problem = builder(w, params)
            self.inputs: tuple[str, ...] = tuple(params)
            self.shapes = {k: tuple(v) for k, v in parameters.items()}
            self.objective: str | None = None
            cp_params = list(params.values())
        else:
            problem, cp_params = self._declarative(
                w, objective, budget, long_only, lower, upper, max_weight, gross_leverage,
                groups, turnover, risk_limit, budgets,
            )  # fmt: skip
            self.inputs = OBJECTIVE_INPUTS[objective] + (("previous_weights",) if turnover else ())
            self.shapes = {}
            self.objective = objective
        if not problem.is_dpp():
            raise ValueError("problem: expected a DPP-compliant cvxpy problem, got one that is not")
        self.solver_args = solver_args_for(self.objective, solver, solver_args)
        self.budget = budget if builder is None else None
        self._cp_problem, self._cp_variable, self._cp_params = problem, w, cp_params
        if on_failure == "equal_weight":
            self._check_fallback_static()
        # kept out of the module registry: its buffers are constants of the problem (sparse,
        # float64, CPU), not model state, and must not follow .to(dtype) or state_dict()
        object.__setattr__(
            self, "layer", CvxpyLayer(problem, parameters=cp_params, variables=[w], solver=solver)
        )

    def _declarative(
        self,
        w: cp.Variable,
        objective: str,
        budget: float | None,
        long_only: bool,
        lower: float | Sequence[float] | None,
        upper: float | Sequence[float] | None,
        max_weight: float | None,
        gross_leverage: float | None,
        groups: Sequence[Group] | None,
        turnover: float | None,
        risk_limit: float | None,
        budgets: Sequence[float] | None,
    ) -> tuple[cp.Problem, list[cp.Parameter]]:
        check_choice("objective", objective, tuple(OBJECTIVE_INPUTS))
        if risk_limit is not None and objective != "max_return":
            raise ValueError(f"risk_limit: expected None with objective {objective!r}")
        if budgets is not None and objective != "risk_budgeting":
            raise ValueError(f"budgets: expected None with objective {objective!r}")
        if max_weight is not None:
            if upper is not None:
                raise ValueError("upper, max_weight: expected one of them, got both")
            upper = max_weight
        n = self.n_assets
        constraints = Constraints(
            n, budget, long_only, as_bounds(lower, n, "lower"), as_bounds(upper, n, "upper"),
            gross_leverage, list(groups or []), turnover, risk_limit,
        )  # fmt: skip
        constraints.check_feasible(max_weight)
        if objective not in NORMALISED:
            self.constraints = constraints
        return build_problem(w, objective, constraints, budgets)

    def _fallback(self) -> np.ndarray:
        """The equal-weight portfolio ``budget / n`` (``1 / n`` without a budget)."""
        total = 1.0 if self.budget is None else self.budget
        return np.full(self.n_assets, total / self.n_assets)

    def _check_fallback_static(self) -> None:
        """Refuse ``on_failure="equal_weight"`` if equal weights break a constraint that
        has no parameter (a cap, a sector or leverage limit)."""
        if self.objective in NORMALISED:
            return  # normalised objectives constrain y, not the weights
        self._cp_variable.value = self._fallback()
        for constraint in self._cp_problem.constraints:
            if not constraint.parameters() and float(np.max(constraint.violation())) > 1e-9:
                raise ValueError(
                    f"on_failure: 'equal_weight' breaks the constraint {constraint} (equal "
                    f"weights {self._fallback()[0]:g}); expected on_failure='raise'"
                )

    def _fallback_breaks(self, params: list[torch.Tensor], sample: int) -> bool:
        """Whether equal weights break a constraint with parameters in ``sample``."""
        if self.objective in NORMALISED:
            return False
        for param, value in zip(self._cp_params, params, strict=True):
            v = value.detach()
            param.value = (v[sample] if v.ndim > len(param.shape) else v).numpy()
        self._cp_variable.value = self._fallback()
        return any(
            float(np.max(c.violation())) > self.feasibility_tol
            for c in self._cp_problem.constraints
            if c.parameters()
        )

    def forward(self, *args: torch.Tensor | float, **kwargs: torch.Tensor | float) -> torch.Tensor:
        """Solve for every sample.

        Inputs are given positionally in the order of ``self.inputs`` or by name
        (``mu`` (batch, asset), ``cov_sqrt`` (batch, asset, asset), ``gamma`` and
        ``alpha`` (batch,) or scalars, ``previous_weights`` (batch, asset); a builder's
        parameters ``(batch, *shape)`` or shape).

        Returns
        -------
        torch.Tensor
            Weights, shape (batch, asset), in the first tensor input's dtype and device.

        Raises
        ------
        ValueError
            Inputs of the wrong shape (naming the input, the expected and the given
            shape), or non-finite (:class:`~deepalloc.errors.NonFiniteError`).
        SolverError
            Failed or infeasible solves, naming the samples (see ``on_failure``).
        """
        values, like, batch = parse_inputs(self, args, kwargs)
        for key, value in values.items():
            check_finite(key, value)
        params, values64 = layer_inputs(self, values, batch)
        weights = self._solve(params, values64, batch)
        if self.objective in NORMALISED:
            weights = weights / weights.sum(-1, keepdim=True)
        return weights.to(device=like.device, dtype=like.dtype)

    def _args(self, params: list[torch.Tensor]) -> dict[str, Any]:
        """Solver arguments; derivative-only ones are dropped when no gradient is needed
        (diffcp forwards them to the solver, which rejects them)."""
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        if needs_grad:
            return self.solver_args
        return {k: v for k, v in self.solver_args.items() if k not in _DERIVATIVE_ARGS}

    def _violation(
        self, w: torch.Tensor, params: list[torch.Tensor], values: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Largest constraint violation of each sample's solution (batch,), batched."""
        w = w.detach()
        if self.objective in NORMALISED:  # y >= 0, and mu'y = 1 for the tangency
            bad = (-w).clamp_min(0).amax(-1)
            if self.objective == "max_sharpe":
                mu = params[0].detach()
                bad = torch.maximum(bad, ((mu * w).sum(-1) - 1).abs())
            return torch.where(w.sum(-1) > 0, bad, torch.full_like(bad, float("inf")))
        if self.constraints is not None:
            return self.constraints.violation(w, {k: v.detach() for k, v in values.items()})
        return self._builder_violation(w, params)

    def _builder_violation(self, w: torch.Tensor, params: list[torch.Tensor]) -> torch.Tensor:
        """A builder problem's constraint violations, evaluated by cvxpy sample by sample
        (its constraints are arbitrary): about a tenth of the per-sample solves' time.
        Constraints on auxiliary variables (an epigraph, a dual multiplier) have no value
        from the weights alone and are left to the solver's own status."""
        out = torch.zeros(w.shape[0], dtype=w.dtype)
        on_weights = [
            c
            for c in self._cp_problem.constraints
            if all(v.id == self._cp_variable.id for v in c.variables())
        ]
        for i in range(w.shape[0]):
            for param, value in zip(self._cp_params, params, strict=True):
                v = value.detach()
                param.value = (v[i] if v.ndim > len(param.shape) else v).numpy()
            self._cp_variable.value = w[i].numpy()
            viol = [float(np.max(c.violation(), initial=0.0)) for c in on_weights]
            out[i] = max(viol, default=0.0)
        return out

    def _solve(
        self, params: list[torch.Tensor], values: dict[str, torch.Tensor], batch: int
    ) -> torch.Tensor:
        try:
            (w,) = self.layer(*params, solver_args=self._args(params))
        except SOLVER_ERRORS:
            failed = [i for i in range(batch) if not self._solves(params, values, i)]
            if not failed:
                raise SolverError(
                    "convex layer: expected the batch to solve, got a failure no single "
                    "sample reproduces"
                ) from None
            return self._recover(params, batch, failed)
        ok = torch.isfinite(w).all(-1)
        ok &= self._violation(torch.nan_to_num(w), params, values) <= self.feasibility_tol
        if bool(ok.all()):
            return w
        failed = torch.nonzero(~ok).flatten().tolist()
        return self._recover(params, batch, failed, w)

    def _solves(self, params: list[torch.Tensor], values: dict[str, torch.Tensor], i: int) -> bool:
        one = [p[i : i + 1] for p in params]
        try:
            with torch.no_grad():
                (w,) = self.layer(*one, solver_args=self._args(one))
        except SOLVER_ERRORS:
            return False
        sample = {k: v[i : i + 1] for k, v in values.items()}
        return bool(torch.isfinite(w).all()) and bool(
            (self._violation(w, one, sample) <= self.feasibility_tol).all()
        )

    def _recover(
        self,
        params: list[torch.Tensor],
        batch: int,
        failed: list[int],
        solved: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Raise for the ``failed`` samples, or give them equal weights (module docstring)."""
        if self.on_failure == "raise":
            raise SolverError(
                f"convex layer: expected a solution for every sample, got infeasible or failed "
                f"solves for samples {failed}",
                failed,
            )
        breaks = [i for i in failed if self._fallback_breaks(params, i)]
        if breaks:
            raise SolverError(
                f"convex layer: samples {failed} failed to solve, and equal weights break a "
                f"constraint of samples {breaks} (turnover or risk limit), so they cannot "
                "fall back to them",
                failed,
            )
        warnings.warn(
            f"convex layer: samples {failed} failed to solve; they get equal weights",
            RuntimeWarning,
            stacklevel=4,
        )
        ok = [i for i in range(batch) if i not in failed]
        out = torch.as_tensor(self._fallback()).expand(batch, -1).clone()
        if ok:
            if solved is None:
                subset = [p[ok] for p in params]
                (solved_ok,) = self.layer(*subset, solver_args=self._args(subset))
            else:
                solved_ok = solved[ok]
            out = out.index_put((torch.tensor(ok),), solved_ok)
        return out
