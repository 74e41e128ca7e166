"""Robustness of the batched QP behind ``MarkowitzAllocator`` on hard random problems.

5,120 problems by default: 20 groups of 256, each with its own number of assets
(5 to 100) and cap (from 1.5 / n to 1), risk aversion spread over four decades, the L2
penalty down to 1e-8 and low-rank covariance roots (rank 1 to n). Reported per group:
whether every sample converged, the most active-set iterations, and, on the first 16
samples of each group, the largest weight difference to Clarabel at tolerance 1e-10
and the largest shortfall of our objective below Clarabel's (weights may differ along
nearly flat directions of ill-conditioned problems while the objective agrees).
Also used to choose ``QPSettings`` defaults (``--warm-steps``).

Run: .venv/bin/python -m benchmarks.bench_qp_robustness [--groups 20] [--warm-steps 10]
"""

from __future__ import annotations

import argparse

import cvxpy as cp
import numpy as np
import pandas as pd
import torch

import deepalloc.allocators.qp as qp
import deepalloc.allocators.qp_solver as qp_solver
from benchmarks.harness import command_line, emit, machine, markdown_table
from deepalloc.allocators import MarkowitzAllocator

BATCH = 256
CHECKED = 16


def hard_problems(group: int):
    """One group of random problems: (n, cap, mu, S, gamma, alpha) in float64."""
    g = torch.Generator().manual_seed(group)
    n = [5, 10, 20, 50, 100][group % 5]
    cap = [1.5 / n, 3.0 / n, 0.5, 1.0][(group // 5) % 4]
    rank = torch.randint(1, n + 1, (BATCH,), generator=g)
    s = torch.randn(BATCH, n, n, generator=g, dtype=torch.float64) / n**0.5
    s = s * (torch.arange(n)[None, :, None] < rank[:, None, None])  # rank-deficient roots
    mu = torch.randn(BATCH, n, generator=g, dtype=torch.float64) * 0.05
    gamma = 10 ** (4 * torch.rand(BATCH, generator=g, dtype=torch.float64) - 2)
    alpha = 10 ** (-8 + 6 * torch.rand(BATCH, generator=g, dtype=torch.float64))
    return n, cap, mu, s, gamma, alpha


def clarabel_weights(mu, s, gamma, alpha, cap) -> np.ndarray:
    """Weights of one problem solved by Clarabel at tight tolerance."""
    n = len(mu)
    w = cp.Variable(n)
    objective = mu @ w - gamma * cp.sum_squares(s @ w) - alpha * cp.sum_squares(w)
    problem = cp.Problem(cp.Maximize(objective), [cp.sum(w) == 1, w >= 0, w <= cap])
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return np.asarray(w.value)


def run_group(group: int, settings: qp.QPSettings) -> dict[str, float]:
    n, cap, mu, s, gamma, alpha = hard_problems(group)
    iterations: list[int] = []
    solve = qp_solver._solve

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = solve(*args, **kwargs)
        iterations.append(out.iterations)
        return out

    qp_solver._solve = counting
    try:
        w = MarkowitzAllocator(max_weight=cap, settings=settings)(mu, s, gamma, alpha)
    finally:
        qp_solver._solve = solve
    reference = np.stack(
        [
            clarabel_weights(mu[i].numpy(), s[i].numpy(), float(gamma[i]), float(alpha[i]), cap)
            for i in range(CHECKED)
        ]
    )
    ours = w[:CHECKED].numpy()

    def utility(weights: np.ndarray) -> np.ndarray:
        risk = np.einsum("bij,bj->bi", s[:CHECKED].numpy(), weights)
        return (
            (mu[:CHECKED].numpy() * weights).sum(1)
            - gamma[:CHECKED].numpy() * (risk**2).sum(1)
            - alpha[:CHECKED].numpy() * (weights**2).sum(1)
        )

    return {
        "group": group,
        "n": n,
        "cap": round(cap, 4),
        "max_iterations": max(iterations),
        "max_abs_diff_clarabel": float(np.abs(ours - reference).max()),
        "max_utility_shortfall": float((utility(reference) - utility(ours)).max()),
    }


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="the first 5 groups")
    parser.add_argument("--warm-steps", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    groups = 5 if args.quick else args.groups
    ws = args.warm_steps
    settings = qp.QPSettings() if ws is None else qp.QPSettings(warm_steps=ws)
    table = pd.DataFrame([run_group(group, settings) for group in range(groups)])
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_qp_robustness', argv)}`",
            f"Machine: {machine()}; {settings}; {groups * BATCH} problems, all converged (the layer raises SolverError otherwise)",
            "",
            markdown_table(table),
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
