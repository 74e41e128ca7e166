"""General convex allocation layers on cvxpylayers (the only module importing cvxpy).

:class:`ConvexAllocator` builds a DPP problem either from declarative parts (an
objective and constraints) or from a user's builder function, and solves it for every
sample with cvxpylayers, differentiably. cvxpylayers runs on the CPU in float64; the
weights come back in the inputs' dtype and device.

Defaults: diffcp with SCS at ``eps_abs = eps_rel = 1e-10`` and dense derivatives,
which agree with Clarabel at tight tolerance to about 1e-9 (SCS at its default
tolerance is off by 1e-4 and its gradients by up to 70%; Clarabel through diffcp stalls
near 1e-6). Pass ``solver_args`` to change it.

A failed or infeasible solve raises :class:`~deepalloc.errors.SolverError` naming the
samples, or with ``on_failure="equal_weight"`` gives those samples equal weights
(no gradient) and warns; never NaN weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cvxpy as cp
import numpy as np
import torch
from cvxpylayers.torch import CvxpyLayer
from torch import nn

from deepalloc._checks import check_choice
from deepalloc.errors import SolverError

DEFAULT_SOLVER_ARGS: dict[str, Any] = {
    "solve_method": "SCS",
    "eps_abs": 1e-10,
    "eps_rel": 1e-10,
    "max_iters": 200_000,
    "mode": "dense",
}

_DERIVATIVE_ARGS = ("mode", "n_jobs_forward", "n_jobs_backward")

OBJECTIVE_INPUTS: dict[str, tuple[str, ...]] = {
    "mean_variance": ("mu", "cov_sqrt", "gamma", "alpha"),
    "min_variance": ("cov_sqrt", "alpha"),
    "max_return": ("mu", "cov_sqrt"),
    "max_entropy": ("mu",),
    "risk_budgeting": ("cov_sqrt",),
    "max_sharpe": ("mu", "cov_sqrt"),
}
_DEFAULTS = {"gamma": 1.0, "alpha": 0.0}
NORMALISED = ("risk_budgeting", "max_sharpe")

Group = tuple[Sequence[int], float]
Builder = Callable[[cp.Variable, Mapping[str, cp.Parameter]], cp.Problem]


def _bound(value: float | Sequence[float] | None, n: int, name: str) -> np.ndarray | None:
    if value is None:
        return None
    arr = np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: expected finite bounds, got {value}")
    return arr


class ConvexAllocator(nn.Module):
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
        is given.
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
        Volatility cap ``||S w||`` for ``"max_return"``.
    budgets
        Risk budgets for ``"risk_budgeting"`` (default equal).
    builder, parameters
        A custom problem: ``parameters`` maps names to shapes; ``builder(w, params)``
        receives the weight variable and a dict of ``cp.Parameter`` and returns a DPP
        ``cp.Problem``. ``forward`` then takes tensors in ``parameters`` order (or by name).
    solver
        cvxpylayers' solver backend (``None``: diffcp, the default; see cvxpylayers
        for the others). With diffcp, ``solver_args["solve_method"]`` picks SCS,
        Clarabel or ECOS.
    solver_args
        Passed to the solver; with diffcp and SCS merged over
        :data:`DEFAULT_SOLVER_ARGS`, otherwise used as given (dense derivatives kept
        for diffcp).
    on_failure
        ``"raise"`` (default) or ``"equal_weight"``.
    """

    layer: CvxpyLayer

    def __init__(
        self,
        n_assets: int,
        *,
        objective: str = "mean_variance",
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
        on_failure: str = "raise",
    ):
        super().__init__()
        check_choice("on_failure", on_failure, ("raise", "equal_weight"))
        self.n_assets = n_assets
        self.on_failure = on_failure
        method = (solver_args or {}).get("solve_method", "SCS")
        if solver is not None:
            defaults: dict[str, Any] = {}
        elif method == "SCS":
            defaults = DEFAULT_SOLVER_ARGS
        else:  # the SCS tolerances mean nothing to another diffcp solver
            defaults = {"mode": DEFAULT_SOLVER_ARGS["mode"]}
        self.solver_args = {**defaults, **(solver_args or {})}
        w = cp.Variable(n_assets, name="w")
        if builder is not None:
            if not parameters:
                raise ValueError("parameters: expected {name: shape} for the builder, got none")
            params = {k: cp.Parameter(tuple(v), name=k) for k, v in parameters.items()}
            problem = builder(w, params)
            self.inputs: tuple[str, ...] = tuple(params)
            self.normalise = False
            cp_params = list(params.values())
        else:
            check_choice("objective", objective, tuple(OBJECTIVE_INPUTS))
            if max_weight is not None:
                if upper is not None:
                    raise ValueError("upper, max_weight: expected one of them, got both")
                upper = max_weight
            problem, cp_params = self._declarative(
                w,
                objective,
                budget=budget,
                long_only=long_only,
                lower=_bound(lower, n_assets, "lower"),
                upper=_bound(upper, n_assets, "upper"),
                gross_leverage=gross_leverage,
                groups=groups or [],
                turnover=turnover,
                risk_limit=risk_limit,
                budgets=budgets,
            )
            self.inputs = OBJECTIVE_INPUTS[objective] + (("previous_weights",) if turnover else ())
            self.normalise = objective in NORMALISED
        if not problem.is_dpp():
            raise ValueError("problem: expected a DPP-compliant cvxpy problem, got one that is not")
        self.objective = None if builder is not None else objective
        # kept out of the module registry: its buffers are constants of the problem (sparse,
        # float64, CPU), not model state, and must not follow .to(dtype) or state_dict()
        object.__setattr__(
            self, "layer", CvxpyLayer(problem, parameters=cp_params, variables=[w], solver=solver)
        )

    def _declarative(
        self,
        w: cp.Variable,
        objective: str,
        *,
        budget: float | None,
        long_only: bool,
        lower: np.ndarray | None,
        upper: np.ndarray | None,
        gross_leverage: float | None,
        groups: Sequence[Group],
        turnover: float | None,
        risk_limit: float | None,
        budgets: Sequence[float] | None,
    ) -> tuple[cp.Problem, list[cp.Parameter]]:
        n = self.n_assets
        mu = cp.Parameter(n, name="mu")
        risk = cp.Parameter((n, n), name="risk")  # sqrt(gamma) * S, keeps the problem DPP
        ridge = cp.Parameter(nonneg=True, name="ridge")  # sqrt(alpha)
        if objective in NORMALISED and (
            any(v is not None for v in (lower, upper, gross_leverage, turnover)) or groups
        ):
            raise ValueError(
                f"objective: expected no extra constraints with {objective!r} (its solution "
                "is normalised afterwards), got some"
            )
        if objective == "max_sharpe":
            problem = cp.Problem(cp.Minimize(cp.sum_squares(risk @ w)), [mu @ w == 1, w >= 0])
            return problem, [mu, risk]
        if objective == "risk_budgeting":
            b = np.full(n, 1.0 / n) if budgets is None else np.asarray(budgets, float)
            b = b / b.sum()
            problem = cp.Problem(
                cp.Minimize(0.5 * cp.sum_squares(risk @ w) - b @ cp.log(w)), [w >= 1e-12]
            )
            return problem, [risk]
        constraints: list[Any] = []
        if budget is not None:
            constraints.append(cp.sum(w) == budget)
        if long_only:
            constraints.append(w >= 0)
        if lower is not None:
            constraints.append(w >= lower)
        if upper is not None:
            constraints.append(w <= upper)
        if gross_leverage is not None:
            constraints.append(cp.norm1(w) <= gross_leverage)
        for indices, limit in groups:
            idx = list(indices)
            if not idx or min(idx) < 0 or max(idx) >= n:
                raise ValueError(f"groups: expected asset indices in [0, {n}), got {idx}")
            constraints += [cp.sum(w[idx]) <= limit, cp.sum(w[idx]) >= -limit]
        extra: list[cp.Parameter] = []
        if turnover is not None:
            previous = cp.Parameter(n, name="previous_weights")
            constraints.append(cp.norm1(w - previous) <= turnover)
            extra.append(previous)
        if objective == "mean_variance":
            obj: cp.Minimize | cp.Maximize = cp.Maximize(
                mu @ w - cp.sum_squares(risk @ w) - cp.sum_squares(ridge * w)
            )
            params = [mu, risk, ridge]
        elif objective == "min_variance":
            obj = cp.Minimize(cp.sum_squares(risk @ w) + cp.sum_squares(ridge * w))
            params = [risk, ridge]
        elif objective == "max_return":
            if risk_limit is None:
                raise ValueError("risk_limit: expected a volatility cap for 'max_return', got None")
            constraints.append(cp.norm(risk @ w, 2) <= risk_limit)
            obj = cp.Maximize(mu @ w)
            params = [mu, risk]
        else:  # max_entropy
            obj = cp.Maximize(mu @ w + cp.sum(cp.entr(w)))
            params = [mu]
        return cp.Problem(obj, constraints), params + extra

    def _layer_inputs(
        self, values: dict[str, torch.Tensor | float], like: torch.Tensor
    ) -> list[torch.Tensor]:
        """Map the user's inputs to the layer's parameters (float64, CPU)."""

        def as64(t: torch.Tensor | float) -> torch.Tensor:
            return torch.as_tensor(t, dtype=like.dtype, device=like.device).to("cpu", torch.float64)

        if self.objective is None:
            return [as64(values[k]) for k in self.inputs]
        b = like.shape[0]
        out: list[torch.Tensor] = []
        if "mu" in values:
            out.append(as64(values["mu"]))
        if "cov_sqrt" in values:
            s = as64(values["cov_sqrt"])
            gamma = as64(values.get("gamma", 1.0)).expand(b) if "gamma" in self.inputs else None
            out.append(s if gamma is None else gamma.sqrt()[:, None, None] * s)
        if "alpha" in self.inputs:
            out.append(as64(values.get("alpha", 0.0)).expand(b).sqrt())
        if "previous_weights" in self.inputs:
            out.append(as64(values["previous_weights"]))
        return out

    def forward(self, *args: torch.Tensor | float, **kwargs: torch.Tensor | float) -> torch.Tensor:
        """Solve for every sample.

        Inputs are given positionally in the order of ``self.inputs`` or by name
        (``mu`` (batch, asset), ``cov_sqrt`` (batch, asset, asset), ``gamma`` and
        ``alpha`` (batch,) or scalars, ``previous_weights`` (batch, asset)).

        Returns
        -------
        torch.Tensor
            Weights, shape (batch, asset), in the first tensor input's dtype and device.
        """
        if len(args) > len(self.inputs):
            raise TypeError(
                f"expected at most {len(self.inputs)} inputs {self.inputs}, got {len(args)}"
            )
        values = dict(zip(self.inputs, args, strict=False))
        for key, value in kwargs.items():
            if key not in self.inputs:
                raise TypeError(f"expected inputs among {self.inputs}, got {key!r}")
            values[key] = value
        for key in self.inputs:
            if key not in values:
                if key not in _DEFAULTS:
                    raise TypeError(f"expected input {key!r}, got none")
                values[key] = _DEFAULTS[key]
        like = next(v for v in values.values() if isinstance(v, torch.Tensor))
        params = self._layer_inputs(values, like)
        if self.objective is not None and like.ndim < 2:
            raise ValueError(
                "inputs: expected a leading batch axis (batch, asset, ...), got shape "
                f"{tuple(like.shape)}"
            )
        batch = params[0].shape[0]
        weights = self._solve(params, batch)
        if self.normalise:
            weights = weights / weights.sum(-1, keepdim=True)
        return weights.to(device=like.device, dtype=like.dtype)

    def _args(self, params: list[torch.Tensor]) -> dict[str, Any]:
        """Solver arguments; derivative-only ones are dropped when no gradient is needed
        (diffcp forwards them to the solver, which rejects them)."""
        needs_grad = torch.is_grad_enabled() and any(p.requires_grad for p in params)
        if needs_grad:
            return self.solver_args
        return {k: v for k, v in self.solver_args.items() if k not in _DERIVATIVE_ARGS}

    def _solve(self, params: list[torch.Tensor], batch: int) -> torch.Tensor:
        try:
            (w,) = self.layer(*params, solver_args=self._args(params))
            if bool(torch.isfinite(w).all()):
                return w
        except Exception:  # diffcp raises a bare SolverError class of its own
            pass
        failed = [i for i in range(batch) if not self._solves([p[i : i + 1] for p in params])]
        if not failed:
            raise SolverError(
                "convex layer: expected the batch to solve, got a failure no single sample reproduces"
            )
        if self.on_failure == "raise":
            raise SolverError(
                f"convex layer: expected a solution for every sample, got infeasible or failed "
                f"solves for samples {failed}",
                failed,
            )
        warnings.warn(
            f"convex layer: samples {failed} failed to solve; they get equal weights",
            RuntimeWarning,
            stacklevel=3,
        )
        ok = [i for i in range(batch) if i not in failed]
        out = torch.full((batch, self.n_assets), 1.0 / self.n_assets, dtype=torch.float64)
        if ok:
            subset = [p[ok] for p in params]
            (w_ok,) = self.layer(*subset, solver_args=self._args(subset))
            out = out.index_put((torch.tensor(ok),), w_ok)
        return out

    def _solves(self, params: list[torch.Tensor]) -> bool:
        try:
            with torch.no_grad():
                (w,) = self.layer(*params, solver_args=self._args(params))
            return bool(torch.isfinite(w).all())
        except Exception:
            return False
