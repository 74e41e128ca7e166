"""Decision layers of Costa & Iyengar (2023), "Distributionally robust end-to-end
portfolio construction" (Quantitative Finance 23(10)).

Each layer maps predictions ``mu`` (batch, asset), the window of the prediction model's
errors ``errors`` (batch, time, asset) and a risk appetite ``gamma`` to long-only weights
``z`` with ``sum(z) = 1``, minimising a deviation risk of the portfolio's errors minus
``gamma`` times the predicted return::

    nominal      min_{z, c}  mean_t (e_t' z - c)^2                           - gamma mu' z
    Hellinger    min_{z, c}  max_{p in P_H(delta)} sum_t p_t (e_t' z - c)^2  - gamma mu' z
    TV           min_{z, c}  max_{p in P_TV(delta)} sum_t p_t (e_t' z - c)^2 - gamma mu' z

``P_H(delta) = {p in simplex : sum_t (sqrt(p_t) - sqrt(1/T))^2 <= delta}`` and
``P_TV(delta) = {p in simplex : sum_t |p_t - 1/T| <= delta}`` are ambiguity sets around
the empirical distribution of the ``T`` errors; the robust layers are solved through
their convex duals (Ben-Tal et al., 2013), exactly as the paper states them (``c`` is
the auxiliary centring variable). ``gamma`` and ``delta`` are inputs, so a network can
learn them (the paper keeps both positive by clamping after each step).

Every layer is differentiable in ``mu``, ``errors``, ``gamma`` and ``delta``, returns
weights in ``mu``'s dtype and device, and raises
:class:`~deepalloc.errors.SolverError` when a solve fails. The conic path
(``method="cvxpylayers"``) runs diffcp + SCS at ``eps = 1e-10`` with dense derivatives
(:mod:`deepalloc.allocators.convex`), after scaling each sample's errors to unit root
mean square (``z`` is invariant; SCS is then several times faster and more accurate).
Errors against Clarabel at tight tolerance are measured by
``benchmarks/bench_costa_iyengar.py`` and stated per layer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cvxpy as cp
import numpy as np
import torch
from torch import nn

from deepalloc._checks import check_choice, check_finite, check_ndim, check_same_size
from deepalloc._recording import Recorded
from deepalloc.allocators.convex import ConvexAllocator
from deepalloc.allocators.qp import QPSettings
from deepalloc.allocators.robust_fast import (
    hellinger_newton,
    newton_radius,
    nominal_qp,
    scale_errors,
)
from deepalloc.errors import SolverError

Params = Mapping[str, cp.Parameter]


def _deviations(w: cp.Variable, p: Params) -> tuple[cp.Expression, list[Any]]:
    """``(e_t' z - c)^2`` for every t, and the budget and long-only constraints."""
    c = cp.Variable(name="c")
    return cp.square(p["errors"] @ w - c), [cp.sum(w) == 1, w >= 0]


def nominal_problem(w: cp.Variable, p: Params) -> cp.Problem:
    """The nominal layer as a DPP problem in ``errors`` (T, n) and ``q = gamma mu``."""
    r, cons = _deviations(w, p)
    return cp.Problem(cp.Minimize(cp.sum(r) / r.shape[0] - p["q"] @ w), cons)


def hellinger_problem(w: cp.Variable, p: Params) -> cp.Problem:
    """The Hellinger layer's dual (paper's appendix): ``xi + (delta - 1) lam + mean(beta)``
    with ``xi + lam >= r_t + tau_t`` and ``beta_t tau_t >= lam^2`` (rotated cones)."""
    r, cons = _deviations(w, p)
    t = r.shape[0]
    lam, xi = cp.Variable(nonneg=True), cp.Variable()
    beta, tau = cp.Variable(t, nonneg=True), cp.Variable(t, nonneg=True)
    cons += [
        xi + lam - tau >= r,
        cp.SOC(beta + tau, cp.vstack([2 * lam * np.ones(t), beta - tau]), axis=0),
    ]
    objective = xi + (p["delta"] - 1) * lam + cp.sum(beta) / t - p["q"] @ w
    return cp.Problem(cp.Minimize(objective), cons)


def tv_problem(w: cp.Variable, p: Params) -> cp.Problem:
    """The total-variation layer's dual: ``eta + delta lam + mean(beta)`` with
    ``beta_t >= -lam``, ``beta_t >= r_t - eta`` and ``lam >= r_t - eta``."""
    r, cons = _deviations(w, p)
    t = r.shape[0]
    lam, eta, beta = cp.Variable(nonneg=True), cp.Variable(), cp.Variable(t)
    cons += [beta >= -lam, beta + eta >= r, lam + eta >= r]
    objective = eta + p["delta"] * lam + cp.sum(beta) / t - p["q"] @ w
    return cp.Problem(cp.Minimize(objective), cons)


class _RobustLayer(Recorded, nn.Module):
    """Input checks, the float64 computation and the per-shape conic layers."""

    robust = True
    builder: Callable[[cp.Variable, Params], cp.Problem]

    def __init__(self, method: str, methods: tuple[str, ...], solver_args: Any, settings: Any):
        super().__init__()
        check_choice("method", method, methods)
        self.method = method
        self.solver_args = dict(solver_args or {})
        self.settings = settings or QPSettings()
        self._conic: dict[tuple[int, int], ConvexAllocator] = {}

    def _inputs(
        self, mu: torch.Tensor, errors: torch.Tensor, **scalars: float | torch.Tensor
    ) -> dict[str, torch.Tensor]:
        check_ndim("mu", mu, 2, "batch, asset")
        check_ndim("errors", errors, 3, "batch, time, asset")
        b, n = mu.shape
        check_same_size(["mu", "errors"], [b, errors.shape[0]], "batch")
        check_same_size(["mu", "errors"], [n, errors.shape[2]], "asset")
        if errors.shape[1] < 2:
            raise ValueError(f"errors: expected at least 2 time steps, got {errors.shape[1]}")
        check_finite("mu", mu)  # before the cast: an integer tensor is refused, not cast
        check_finite("errors", errors)
        out = {"mu": mu.to(torch.float64), "errors": errors.to(torch.float64)}
        for name, value in scalars.items():
            t = torch.as_tensor(value, device=mu.device).to(torch.float64)
            if t.ndim == 0:
                t = t.expand(b)
            if t.shape != (b,):
                raise ValueError(f"{name}: expected a scalar or shape ({b},), got {tuple(t.shape)}")
            out[name] = t
        for name in scalars:
            check_finite(name, out[name])
            if bool((out[name].detach() < 0).any()):
                raise ValueError(f"{name}: expected non-negative values, got a negative one")
        return out

    def _cvxpylayers(self, v: dict[str, torch.Tensor]) -> torch.Tensor:
        """Solve on the conic path, the errors scaled to unit RMS per sample."""
        _, t, n = v["errors"].shape
        if (t, n) not in self._conic:
            shapes = {"errors": (t, n), "q": (n,)} | ({"delta": ()} if self.robust else {})
            self._conic[(t, n)] = ConvexAllocator(
                n, builder=type(self).builder, parameters=shapes, solver_args=self.solver_args
            )
        q, e, _ = scale_errors(v["gamma"][:, None] * v["mu"], v["errors"])
        args = (e, q, v["delta"]) if self.robust else (e, q)
        return self._conic[(t, n)](*args)


class NominalAllocator(_RobustLayer):
    """The paper's nominal layer: minimum deviation risk minus ``gamma`` times return.

    ``min_{z, c} mean_t (e_t' z - c)^2 - gamma mu' z`` over long-only, fully invested
    ``z``. Minimising over ``c`` gives the error covariance ``C`` (divided by ``T``),
    so the layer is exactly the QP ``min z' C z - gamma mu' z``: ``method="qp"`` (the
    default) solves that with :func:`~deepalloc.allocators.qp.solve_box_qp` and its
    implicit gradient; ``method="cvxpylayers"`` solves the paper's form. The two agree to
    about 1e-10 in the weights (``tests/allocators/test_robust.py``); the conic path
    agrees with Clarabel at tight tolerance to about 1e-10 (T = 104, 20 assets;
    ``benchmarks/bench_costa_iyengar.py``). The QP path needs ``C`` positive definite on the
    assets it holds (more time steps than assets, errors not collinear).

    Parameters
    ----------
    method
        ``"qp"`` or ``"cvxpylayers"``.
    solver_args
        For the conic path, merged over :data:`~deepalloc.allocators.convex.DEFAULT_SOLVER_ARGS`.
    settings
        For the QP path (:class:`~deepalloc.allocators.qp.QPSettings`).
    """

    inputs: tuple[str, ...] = ("mu", "errors", "gamma")
    robust = False
    builder = staticmethod(nominal_problem)

    def __init__(
        self,
        *,
        method: str = "qp",
        solver_args: Mapping[str, Any] | None = None,
        settings: QPSettings | None = None,
    ):
        super().__init__(method, ("qp", "cvxpylayers"), solver_args, settings)

    def forward(
        self, mu: torch.Tensor, errors: torch.Tensor, gamma: float | torch.Tensor = 1.0
    ) -> torch.Tensor:
        """Weights for every sample.

        Parameters
        ----------
        mu
            Predicted returns, shape (batch, asset).
        errors
            Prediction errors over the estimation window, shape (batch, time, asset).
        gamma
            Risk appetite, scalar or (batch,), non-negative.

        Returns
        -------
        torch.Tensor
            Weights, shape (batch, asset), in ``mu``'s dtype and device.
        """
        v = self._inputs(mu, errors, gamma=gamma)
        if self.method == "qp":
            w = nominal_qp(v["mu"], v["errors"], v["gamma"], self.settings)
        else:
            w = self._cvxpylayers(v)
        return w.to(device=mu.device, dtype=mu.dtype)


class HellingerDRAllocator(_RobustLayer):
    """The paper's distributionally robust layer with a Hellinger ambiguity set.

    ``min_{z, c} max_{p} sum_t p_t (e_t' z - c)^2 - gamma mu' z`` over the distributions
    ``p`` within Hellinger distance ``sum_t (sqrt(p_t) - sqrt(1/T))^2 <= delta`` of the
    empirical one. ``delta = 0`` is the nominal layer; from ``delta = 2 (1 - 1/sqrt(T))``
    on, the set holds a point mass and the risk is the largest squared deviation.

    ``method="newton"`` (the default) is the fast path of
    :func:`~deepalloc.allocators.robust_fast.hellinger_newton`: the worst-case
    distribution has a closed form up to one scalar root, the risk is smooth and convex,
    and damped Newton steps (each a box QP on the batched solver) minimise it; it agrees
    with Clarabel at tight tolerance to about 1e-8 (the reference's own accuracy) and
    with the conic path to about 1e-7, at a few hundredths of its cost. It is not a QP
    in general: the worst-case weights depend on the portfolio. It serves radii with
    ``T (1 - delta/2)^2 > n_assets + 1`` (:func:`~deepalloc.allocators.robust_fast.newton_radius`,
    about 1.10 for 104 errors of 20 assets; the paper's learned radii stay below 0.75):
    beyond, the optimum can rest the worst case on tied scenarios, where the risk is not
    smooth, and those samples (and any whose Newton system turns out singular) are
    solved on the conic path.
    ``method="cvxpylayers"`` solves the paper's conic dual; against Clarabel its weights
    are off by about 1e-7 (T = 104, 20 assets; ``benchmarks/bench_costa_iyengar.py``).

    Parameters
    ----------
    method
        ``"newton"`` or ``"cvxpylayers"``.
    solver_args
        For the conic path, merged over :data:`~deepalloc.allocators.convex.DEFAULT_SOLVER_ARGS`.
    settings
        For the QP steps of the Newton path.
    """

    inputs: tuple[str, ...] = ("mu", "errors", "gamma", "delta")
    builder = staticmethod(hellinger_problem)

    def __init__(
        self,
        *,
        method: str = "newton",
        solver_args: Mapping[str, Any] | None = None,
        settings: QPSettings | None = None,
    ):
        super().__init__(method, ("newton", "cvxpylayers"), solver_args, settings)

    def forward(
        self,
        mu: torch.Tensor,
        errors: torch.Tensor,
        gamma: float | torch.Tensor = 1.0,
        delta: float | torch.Tensor = 0.1,
    ) -> torch.Tensor:
        """Weights for every sample.

        Parameters
        ----------
        mu
            Predicted returns, shape (batch, asset).
        errors
            Prediction errors over the estimation window, shape (batch, time, asset).
        gamma
            Risk appetite, scalar or (batch,), non-negative.
        delta
            Radius of the ambiguity set, scalar or (batch,), non-negative.

        Returns
        -------
        torch.Tensor
            Weights, shape (batch, asset), in ``mu``'s dtype and device.
        """
        v = self._inputs(mu, errors, gamma=gamma, delta=delta)
        if self.method == "cvxpylayers":
            return self._cvxpylayers(v).to(device=mu.device, dtype=mu.dtype)
        smooth = v["delta"].detach() < newton_radius(errors.shape[1], errors.shape[2])
        newton = torch.nonzero(smooth).flatten()
        conic = torch.nonzero(~smooth).flatten()
        w = torch.zeros_like(v["mu"])
        while len(newton):
            part = {k: t[newton] for k, t in v.items()}
            try:
                sub = hellinger_newton(
                    part["mu"], part["errors"], part["gamma"], part["delta"], settings=self.settings
                )
            except SolverError as err:  # a singular Newton system: to the conic path
                if not err.samples:
                    raise
                bad = torch.zeros(len(newton), dtype=torch.bool, device=newton.device)
                bad[err.samples] = True
                conic, newton = torch.cat([conic, newton[bad]]), newton[~bad]
                continue
            w = w.index_put((newton,), sub)
            break
        if len(conic):
            w = w.index_put((conic,), self._cvxpylayers({k: t[conic] for k, t in v.items()}))
        return w.to(device=mu.device, dtype=mu.dtype)


class TVDRAllocator(_RobustLayer):
    """The paper's distributionally robust layer with a total-variation ambiguity set.

    ``min_{z, c} max_{p} sum_t p_t (e_t' z - c)^2 - gamma mu' z`` over the distributions
    ``p`` with ``sum_t |p_t - 1/T| <= delta``. The worst case moves ``delta / 2`` of the
    probability from the smallest squared deviations to the largest one, so the risk is
    piecewise quadratic and not smooth; at the optimum several deviations typically tie
    for the largest, which is where it kinks. There is no fast path: for a fixed worst
    case ``p`` the layer is a weighted mean-variance QP, but ``p`` is only known once the
    conic problem is solved, and differentiating the QP at a fixed ``p`` would drop the
    ties' contribution to the gradient. Solved on the conic path (cvxpylayers, the
    paper's dual); against Clarabel at tight tolerance its weights are off by about 1e-6
    (T = 104, 20 assets; ``benchmarks/bench_costa_iyengar.py``).

    Parameters
    ----------
    solver_args
        Merged over :data:`~deepalloc.allocators.convex.DEFAULT_SOLVER_ARGS`.
    """

    inputs: tuple[str, ...] = ("mu", "errors", "gamma", "delta")
    builder = staticmethod(tv_problem)

    def __init__(self, *, solver_args: Mapping[str, Any] | None = None):
        super().__init__("cvxpylayers", ("cvxpylayers",), solver_args, None)

    def forward(
        self,
        mu: torch.Tensor,
        errors: torch.Tensor,
        gamma: float | torch.Tensor = 1.0,
        delta: float | torch.Tensor = 0.1,
    ) -> torch.Tensor:
        """Weights for every sample; inputs as in :meth:`HellingerDRAllocator.forward`."""
        v = self._inputs(mu, errors, gamma=gamma, delta=delta)
        return self._cvxpylayers(v).to(device=mu.device, dtype=mu.dtype)
