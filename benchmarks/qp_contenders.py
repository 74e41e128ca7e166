"""The long-only mean-variance problem and every differentiable layer that solves it.

One problem for all contenders, in float64::

    maximise    mu' w - gamma ||S w||^2 - alpha ||w||^2
    subject to  sum(w) = 1,  0 <= w <= cap

that is ``min 1/2 w'Qw - mu'w`` with ``Q = 2 (gamma S'S + alpha I)``. Every contender is a
function ``(mu, S) -> w`` (gamma, alpha and cap fixed per problem); forward + backward
means the weights and the gradients of ``v'w`` (a fixed random direction ``v``) with
respect to ``mu`` and the covariance root ``S``. Contenders that take ``Q`` build it
from ``S`` in torch, so the gradient in ``S`` flows through the same autograd graph.

Contenders:

- ``deepalloc``: :class:`deepalloc.allocators.MarkowitzAllocator` at its defaults: its
  forward pass compiled per sample (numba, the ``fast`` extra) when numba is installed.
- ``deepalloc_vectorised``: the same layer with ``QPSettings(kernel="vectorised")``, the
  forward pass without numba (batched NumPy and torch operations).
- ``deepalloc_compiled``: the same layer under ``torch.compile`` (inductor, whole
  graph; the layer is one opaque custom operator there, so this measures what
  compiling a network costs or saves at the layer). Not in the default list: each
  size compiles anew (tens of seconds).
- ``cvxpylayers``: cvxpylayers' default (diffcp + SCS, default settings), with the
  problem written DPP-compliantly (``sqrt(gamma)`` folded into ``S``), as DeepDow's
  ``NumericalMarkowitz`` and its users would.
- ``proxsuite``: ``proxsuite.torch.qplayer.QPFunction()`` at its defaults (forward
  ``eps=1e-9``; backward ``eps_backward=1e-4``, ``rho_backward=mu_backward=1e-6``).
- ``proxsuite_tight``: the same with ``rho_backward=mu_backward=1e-9``: its default
  gradient error (about 1e-5) is that regularisation; its gradient buffers are float32
  (``torch.empty`` without a dtype in ``qplayer.py``), so about 1e-7 remains.
- ``qpth``: OptNet's ``qpth.qp.QPFunction`` at its defaults (``eps=1e-12``,
  ``maxIter=20``, ``verbose=-1`` only to silence its prints).
- ``floor``: not a QP layer; the cheapest correct work any of them must do: form ``Q``,
  one batched Cholesky factorisation, and solve the budget-constrained problem (no
  bounds) forward, and its implicit (KKT) backward on the same factor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Solve = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

CONTENDERS = (
    "deepalloc",
    "deepalloc_vectorised",
    "proxsuite",
    "proxsuite_tight",
    "qpth",
    "cvxpylayers",
    "floor",
)


def cap_for(n: int) -> float:
    """The weight cap at ``n`` assets: binding, and never a vertex of the simplex.

    ``1 / cap`` is kept off the integers (``max(3, n / 10) + 1/3``: 0.3 at 10 assets,
    0.19 at 50, 0.097 at 100, 0.039 at 250), so the budget can never be met with every
    asset at a bound; with a cap like 0.1 the optimum is often "ten assets at the cap",
    a degenerate vertex (budget and bounds all active) where the gradient is undefined.
    """
    return min(1.0, 1.0 / (max(3.0, n / 10) + 1.0 / 3.0))


@dataclass(frozen=True)
class Problem:
    """A batch of mean-variance problems, float64.

    ``mu`` (batch, asset), ``s`` (batch, asset, asset) with ``S'S`` the covariance,
    ``gamma`` and ``alpha`` (batch,), ``cap`` a scalar, ``v`` (batch, asset) the loss
    direction (the loss is ``sum(v * w)``).
    """

    mu: torch.Tensor
    s: torch.Tensor
    gamma: torch.Tensor
    alpha: torch.Tensor
    cap: float
    v: torch.Tensor

    @property
    def batch(self) -> int:
        return int(self.mu.shape[0])

    @property
    def n(self) -> int:
        return int(self.mu.shape[1])

    def to(self, device: str | torch.device) -> Problem:
        return Problem(
            self.mu.to(device),
            self.s.to(device),
            self.gamma.to(device),
            self.alpha.to(device),
            self.cap,
            self.v.to(device),
        )


def make_problem(batch: int, n: int, seed: int = 0, cap: float | None = None) -> Problem:
    """Random well-posed problems (per-sample gamma over about a decade, alpha = 0.01)."""
    g = torch.Generator().manual_seed(seed * 100_003 + 7 * n + batch)
    f64 = torch.float64
    mu = torch.randn(batch, n, generator=g, dtype=f64) * 0.05
    s = torch.randn(batch, n, n, generator=g, dtype=f64) * 0.2 / n**0.5
    gamma = torch.exp(torch.randn(batch, generator=g, dtype=f64))
    alpha = torch.full((batch,), 0.01, dtype=f64)
    v = torch.randn(batch, n, generator=g, dtype=f64)
    return Problem(mu, s, gamma, alpha, cap_for(n) if cap is None else cap, v)


def quadratic(s: torch.Tensor, gamma: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """``Q = 2 (gamma S'S + alpha I)``, shape (batch, asset, asset)."""
    eye = torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
    return 2 * (gamma[:, None, None] * (s.transpose(1, 2) @ s) + alpha[:, None, None] * eye)


def forward_backward(
    solve: Solve, problem: Problem
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights and the gradients of ``sum(v * w)`` in ``mu`` and ``S`` (all detached)."""
    mu = problem.mu.clone().requires_grad_(True)
    s = problem.s.clone().requires_grad_(True)
    w = solve(mu, s)
    (w * problem.v).sum().backward()
    assert mu.grad is not None and s.grad is not None
    return w.detach(), mu.grad, s.grad


def deepalloc_layer(problem: Problem, kernel: str = "auto") -> Solve:
    from deepalloc.allocators import MarkowitzAllocator, QPSettings

    settings = QPSettings(kernel=kernel)
    layer = MarkowitzAllocator(problem.n, max_weight=problem.cap, settings=settings)
    return lambda mu, s: layer(mu, s, problem.gamma, problem.alpha)


def deepalloc_vectorised_layer(problem: Problem) -> Solve:
    return deepalloc_layer(problem, kernel="vectorised")


def deepalloc_compiled_layer(problem: Problem) -> Solve:
    from deepalloc.allocators import MarkowitzAllocator

    layer = MarkowitzAllocator(problem.n, max_weight=problem.cap)

    def solve(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = layer(mu, s, problem.gamma, problem.alpha)
        return out

    return torch.compile(solve, fullgraph=True)  # type: ignore[return-value]


def cvxpylayers_layer(problem: Problem) -> Solve:
    import cvxpy as cp
    from cvxpylayers.torch import CvxpyLayer

    n, cap = problem.n, problem.cap
    w = cp.Variable(n)
    mu_p = cp.Parameter(n)
    risk = cp.Parameter((n, n))
    ridge = cp.Parameter(nonneg=True)
    objective = cp.Maximize(mu_p @ w - cp.sum_squares(risk @ w) - cp.sum_squares(ridge * w))
    layer = CvxpyLayer(
        cp.Problem(objective, [cp.sum(w) == 1, w >= 0, w <= cap]), [mu_p, risk, ridge], [w]
    )
    root_gamma = problem.gamma.sqrt()[:, None, None]
    root_alpha = problem.alpha.sqrt()

    def solve(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        (weights,) = layer(mu, root_gamma * s, root_alpha)
        return weights.to(mu.dtype)

    return solve


def _box_budget(problem: Problem) -> tuple[torch.Tensor, ...]:
    b, n = problem.batch, problem.n
    f64 = problem.mu.dtype
    dev = problem.mu.device
    a = torch.ones(b, 1, n, dtype=f64, device=dev)
    one = torch.ones(b, 1, dtype=f64, device=dev)
    eye = torch.eye(n, dtype=f64, device=dev).expand(b, n, n)
    low = torch.zeros(b, n, dtype=f64, device=dev)
    high = torch.full((b, n), problem.cap, dtype=f64, device=dev)
    return a, one, eye, low, high


def proxsuite_layer(problem: Problem, **settings: float) -> Solve:
    """proxsuite's QPLayer; ``settings`` go to ``QPFunction`` (defaults when empty)."""
    from proxsuite.torch.qplayer import QPFunction

    layer = QPFunction(**settings)
    a, one, eye, low, high = _box_budget(problem)

    def solve(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        q = quadratic(s, problem.gamma, problem.alpha)
        return layer(q, -mu, a, one, eye, low, high)[0]

    return solve


def qpth_layer(problem: Problem) -> Solve:
    from qpth.qp import QPFunction

    layer = QPFunction(verbose=-1)
    a, one, eye, low, high = _box_budget(problem)
    g = torch.cat([-eye, eye], 1)
    h = torch.cat([-low, high], 1)

    def solve(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        q = quadratic(s, problem.gamma, problem.alpha)
        return layer(q, -mu, g, h, a, one)

    return solve


class CholeskyBudgetSolve(torch.autograd.Function):
    """``argmin 1/2 w'Qw - mu'w`` s.t. ``sum(w) = 1``, ``Q = 2 (gamma S'S + alpha I)``.

    The floor: the least work a differentiable layer for this problem must do. Forward:
    form ``Q`` (one batched product), factor it once (Cholesky), ``w = Q^-1 (mu - nu 1)``
    with ``nu`` fixing the budget. Backward (implicit, on the same factor): the KKT
    adjoint ``u = Q^-1 (g - t 1)`` with ``t`` making ``sum(u) = 0``; then
    ``dL/dmu = u``, ``dL/dQ = -(u w' + w u') / 2`` mapped straight to
    ``dL/dS = -2 gamma ((S u) w' + (S w) u')``, ``dL/dgamma = -2 (S u).(S w)`` and
    ``dL/dalpha = -2 u.w``: one (batch, asset, asset) output, no other such temporaries.
    """

    @staticmethod
    def forward(
        ctx, mu: torch.Tensor, s: torch.Tensor, gamma: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        q = torch.bmm(s.transpose(1, 2), s).mul_(2 * gamma[:, None, None])
        q.diagonal(dim1=1, dim2=2).add_(2 * alpha[:, None])
        factor = torch.linalg.cholesky(q)
        rhs = torch.stack([mu, torch.ones_like(mu)], -1)
        x = torch.cholesky_solve(rhs, factor)
        q_mu, q_one = x[..., 0], x[..., 1]
        nu = (q_mu.sum(-1) - 1) / q_one.sum(-1)
        w = q_mu - nu[:, None] * q_one
        ctx.save_for_backward(factor, q_one, w, s, gamma)
        return w

    @staticmethod
    def backward(
        ctx, grad: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        factor, q_one, w, s, gamma = ctx.saved_tensors
        q_g = torch.cholesky_solve(grad[..., None], factor)[..., 0]
        t = q_g.sum(-1) / q_one.sum(-1)
        u = q_g - t[:, None] * q_one
        s_u = torch.bmm(s, u[..., None])
        s_w = torch.bmm(s, w[..., None])
        grad_s = torch.baddbmm(s_u @ w[:, None, :], s_w, u[:, None, :])
        grad_s.mul_(-2 * gamma[:, None, None])
        return u, grad_s, -2 * (s_u * s_w).sum((1, 2)), -2 * (u * w).sum(-1)


def floor_layer(problem: Problem) -> Solve:
    def solve(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        w: torch.Tensor = CholeskyBudgetSolve.apply(mu, s, problem.gamma, problem.alpha)
        return w

    return solve


def proxsuite_tight_layer(problem: Problem) -> Solve:
    return proxsuite_layer(problem, rho_backward=1e-9, mu_backward=1e-9)


FACTORIES: dict[str, Callable[[Problem], Solve]] = {
    "deepalloc": deepalloc_layer,
    "deepalloc_vectorised": deepalloc_vectorised_layer,
    "deepalloc_compiled": deepalloc_compiled_layer,
    "proxsuite": proxsuite_layer,
    "proxsuite_tight": proxsuite_tight_layer,
    "qpth": qpth_layer,
    "cvxpylayers": cvxpylayers_layer,
    "floor": floor_layer,
}

CPU_ONLY = {"proxsuite", "proxsuite_tight", "cvxpylayers"}


def deepalloc_kernel() -> str:
    """Which forward pass the ``deepalloc`` contender runs, for a results file."""
    from deepalloc.allocators import qp_compiled

    if not qp_compiled.available():
        return "deepalloc's forward pass: vectorised (numba not installed)"
    from importlib.metadata import version

    return f"deepalloc's forward pass: compiled (numba {version('numba')})"


def available(name: str) -> str | None:
    """``None`` when contender ``name`` can be imported, else why not (install hint)."""
    modules = {"proxsuite": "proxsuite", "proxsuite_tight": "proxsuite", "qpth": "qpth"}
    module = modules.get(name)
    if module is None:
        return None
    import importlib.util

    if importlib.util.find_spec(module) is None:
        hint = "pip install --no-deps qpth" if name == "qpth" else "pip install -e '.[bench]'"
        return f"not installed ({hint})"
    return None
