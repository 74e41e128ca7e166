"""Reference weights and exact gradients for the problems of :mod:`benchmarks.qp_contenders`.

Weights: Clarabel (through cvxpy) at tolerance 1e-10, then *polished*: the active set
read from Clarabel's solution (weights within 1e-6 of a bound) is fixed and the
equality-constrained KKT system on the free assets is solved exactly, which gives the
solution to machine precision when the active set is right. The polish is accepted
only if it is primal feasible with the free weights strictly inside their bounds and
dual feasible with every bound multiplier of the right sign; ``margin`` is the smallest
of those slacks (a tiny margin means a nearly degenerate problem, where the gradient
is ill-defined).

Gradients of ``sum(v * w)``, exact on that active set (strict complementarity): the KKT
adjoint on the free assets ``[Q_FF 1; 1' 0] [u_F; t] = [v_F; 0]``, ``u_B = 0``; then
``dL/dmu = u``, ``dL/dQ = -u w'`` and, with ``Q = 2 (gamma S'S + alpha I)``,
``dL/dS = 2 gamma S (G + G')`` for ``G = dL/dQ``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.qp_contenders import Problem

ACTIVE_TOL = 1e-6


@dataclass(frozen=True)
class Reference:
    """Reference solution of a batch: weights, gradients and how well-posed it is."""

    w: np.ndarray  # (batch, asset)
    grad_mu: np.ndarray  # (batch, asset)
    grad_s: np.ndarray  # (batch, asset, asset)
    clarabel_gap: float  # max |w_clarabel - w_polished|
    margin: float  # smallest strict-complementarity slack over the batch


def clarabel_weights(problem: Problem) -> np.ndarray:
    """Clarabel's weights (tolerance 1e-10) for every sample, shape (batch, asset)."""
    import cvxpy as cp

    n = problem.n
    w = cp.Variable(n)
    mu = cp.Parameter(n)
    risk = cp.Parameter((n, n))
    ridge = cp.Parameter(nonneg=True)
    objective = cp.Maximize(mu @ w - cp.sum_squares(risk @ w) - cp.sum_squares(ridge * w))
    prob = cp.Problem(objective, [cp.sum(w) == 1, w >= 0, w <= problem.cap])
    out = np.empty((problem.batch, n))
    mus = problem.mu.detach().cpu().numpy()
    ss = problem.s.detach().cpu().numpy()
    gammas = problem.gamma.detach().cpu().numpy()
    alphas = problem.alpha.detach().cpu().numpy()
    for i in range(problem.batch):
        mu.value = mus[i]
        risk.value = np.sqrt(gammas[i]) * ss[i]
        ridge.value = float(np.sqrt(alphas[i]))
        prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
        if prob.status != cp.OPTIMAL:
            raise RuntimeError(f"Clarabel: sample {i} ended with status {prob.status}")
        out[i] = w.value
    return out


def _kkt_free(q_ff: np.ndarray, rhs: np.ndarray, total: float) -> tuple[np.ndarray, float]:
    """Solve ``[Q_FF 1; 1' 0] [x; t] = [rhs; total]``."""
    k = len(rhs)
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = q_ff
    kkt[:k, k] = 1.0
    kkt[k, :k] = 1.0
    sol = np.linalg.solve(kkt, np.append(rhs, total))
    return sol[:k], float(sol[k])


def polish(
    q: np.ndarray, mu: np.ndarray, cap: float, w0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact solution on ``w0``'s active set: (weights, free mask, complementarity margin)."""
    lower = w0 < ACTIVE_TOL
    upper = w0 > cap - ACTIVE_TOL
    free = ~(lower | upper)
    if not free.any():
        raise RuntimeError("reference: every asset at a bound (a degenerate vertex)")
    w = np.where(upper, cap, 0.0)
    rhs = mu[free] - q[np.ix_(free, ~free)] @ w[~free]
    w[free], nu = _kkt_free(q[np.ix_(free, free)], rhs, 1.0 - w[~free].sum())
    residual = q @ w - mu + nu  # bound multipliers: >= 0 at 0, <= 0 at the cap
    slacks = np.concatenate([w[free], cap - w[free], residual[lower], -residual[upper]])
    return w, free, float(slacks.min()) if slacks.size else float("inf")


def reference(problem: Problem) -> Reference:
    """Polished Clarabel weights and exact active-set gradients of ``sum(v * w)``."""
    w_clarabel = clarabel_weights(problem)
    mus = problem.mu.detach().cpu().numpy()
    ss = problem.s.detach().cpu().numpy()
    vs = problem.v.detach().cpu().numpy()
    gammas = problem.gamma.detach().cpu().numpy()
    alphas = problem.alpha.detach().cpu().numpy()
    n = problem.n
    ws, g_mu, g_s, margins = [], [], [], []
    for i in range(problem.batch):
        q = 2 * (gammas[i] * ss[i].T @ ss[i] + alphas[i] * np.eye(n))
        w, free, margin = polish(q, mus[i], problem.cap, w_clarabel[i])
        if margin <= 0:
            raise RuntimeError(f"reference: sample {i} active set not confirmed ({margin:.1e})")
        u = np.zeros(n)
        u[free], _ = _kkt_free(q[np.ix_(free, free)], vs[i][free], 0.0)
        g_q = -np.outer(u, w)
        ws.append(w)
        g_mu.append(u)
        g_s.append(2 * gammas[i] * ss[i] @ (g_q + g_q.T))
        margins.append(margin)
    w_ref = np.stack(ws)
    return Reference(
        w=w_ref,
        grad_mu=np.stack(g_mu),
        grad_s=np.stack(g_s),
        clarabel_gap=float(np.abs(w_clarabel - w_ref).max()),
        margin=float(min(margins)),
    )


@dataclass(frozen=True)
class Accuracy:
    """Errors of one contender against a :class:`Reference`.

    ``w_err``: max abs weight error; ``mu_err`` and ``s_err``: max abs gradient error
    relative to the largest reference gradient entry (of mu and of S respectively).
    """

    w_err: float
    mu_err: float
    s_err: float

    def cells(self) -> tuple[str, str, str]:
        return f"{self.w_err:.1e}", f"{self.mu_err:.1e}", f"{self.s_err:.1e}"


def accuracy(ref: Reference, w: np.ndarray, grad_mu: np.ndarray, grad_s: np.ndarray) -> Accuracy:
    """Errors of (w, grad_mu, grad_s) against ``ref``."""
    return Accuracy(
        w_err=float(np.abs(w - ref.w).max()),
        mu_err=float(np.abs(grad_mu - ref.grad_mu).max() / np.abs(ref.grad_mu).max()),
        s_err=float(np.abs(grad_s - ref.grad_s).max() / np.abs(ref.grad_s).max()),
    )
