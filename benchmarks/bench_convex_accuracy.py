"""Accuracy of ``ConvexAllocator`` at its default solver settings, per objective.

For each objective, random problems of 5, 20 and 50 assets (``--per-size`` each) are
solved by the layer and by an exact or independent reference:

- mean_variance (cap 1.5 / n) and min_variance: the batched QP of
  ``MarkowitzAllocator`` / ``MinVarianceAllocator`` (exact active-set solution);
- max_return: the same QP with the risk aversion found by bisection so that the
  volatility limit holds exactly (the optimum of an LP over the simplex with one
  convex constraint lies on the risk-aversion path);
- max_sharpe: Clarabel on the QP ``min y'Cy, mu'y = 1, y >= 0`` at tolerance 1e-12;
- risk_budgeting: ``RiskBudgetingAllocator`` (Newton's method to 1e-12);
- max_entropy: the softmax of scores scaled to spread weights over 1e-7..1 (exact),
  and capped at 2 / n (``capped_softmax``, exact).

Reported: the largest absolute weight error over all problems, the smallest reference
weight (small weights are where SCS fails on the entropy), and the largest relative
error of the gradient of ``sum(c * w)`` with respect to the first input (``mu``, or
``cov_sqrt`` where there is no ``mu``; median and largest over the problems), against
autograd through the exact reference, or central differences of the reference
(max_return, max_sharpe). The largest gradient errors come from nearly degenerate
problems (a weight at a bound with a multiplier near zero), where the derivative jumps;
gradients below ``GRADIENT_FLOOR`` count as that size in the relative error.

Run: .venv/bin/python -m benchmarks.bench_convex_accuracy [--per-size 8] [--objectives ...]
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
import torch

from benchmarks.harness import machine, markdown_table
from deepalloc.allocators import (
    ConvexAllocator,
    MarkowitzAllocator,
    MinVarianceAllocator,
    QPSettings,
    RiskBudgetingAllocator,
)
from deepalloc.functional.simplex import capped_softmax

SIZES = (5, 20, 50)
GRADIENT_FLOOR = 1e-6
"""Gradients smaller than this (a portfolio at a vertex has a zero gradient) count as
this size when the error is made relative."""
EXACT_QP = QPSettings(tol=1e-12)


def problems(n: int, batch: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, n, generator=g, dtype=torch.float64) * 0.05
    s = torch.randn(batch, n, n, generator=g, dtype=torch.float64) * 0.2 / n**0.5
    s = s + 0.05 * torch.eye(n, dtype=torch.float64)
    scores = torch.randn(batch, n, generator=g, dtype=torch.float64)
    return {"mu": mu, "s": s, "scores": scores}


def max_return_reference(mu: torch.Tensor, s: torch.Tensor, limit: float) -> torch.Tensor:
    """max mu'w over the simplex with ||S w|| <= limit, by bisection on the risk aversion."""
    lo = torch.full((mu.shape[0],), 1e-8, dtype=mu.dtype)
    hi = torch.full((mu.shape[0],), 1e8, dtype=mu.dtype)
    qp = MarkowitzAllocator(settings=EXACT_QP)
    for _ in range(120):
        mid = (lo * hi).sqrt()
        vol = torch.linalg.vector_norm(torch.einsum("bij,bj->bi", s, qp(mu, s, mid, 0.0)), dim=-1)
        lo, hi = torch.where(vol > limit, mid, lo), torch.where(vol > limit, hi, mid)
    return qp(mu, s, (lo * hi).sqrt(), 0.0)


def max_sharpe_reference(mu: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    rows = []
    for m, root in zip(mu.detach().numpy(), s.detach().numpy(), strict=True):
        y = cp.Variable(len(m))
        cov = cp.psd_wrap(root.T @ root)
        cp.Problem(cp.Minimize(cp.quad_form(y, cov)), [m @ y == 1, y >= 0]).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
        )
        rows.append(y.value / y.value.sum())
    return torch.tensor(np.stack(rows))


def case(objective: str, n: int, data: dict[str, torch.Tensor]) -> dict[str, Any]:
    """Layer, inputs, reference function of the first input, and whether it is exact."""
    mu, s = data["mu"].abs() + 0.01, data["s"]
    if objective == "mean_variance":
        cap = 1.5 / n
        return {
            "layer": ConvexAllocator(n, max_weight=cap),
            "inputs": (data["mu"] * 4, s, 1.0, 0.01),
            "ref": lambda m: MarkowitzAllocator(n, max_weight=cap, settings=EXACT_QP)(
                m, s, 1.0, 0.01
            ),
        }
    if objective == "min_variance":
        return {
            "layer": ConvexAllocator(n, objective="min_variance"),
            "inputs": (s, 0.01),
            "ref": lambda root: MinVarianceAllocator(n, settings=EXACT_QP)(root, 0.01),
        }
    if objective == "max_return":
        # 10% above the largest minimum volatility: feasible for every problem
        w_min = MinVarianceAllocator(n, settings=EXACT_QP)(s)
        limit = 1.1 * float(
            torch.linalg.vector_norm(torch.einsum("bij,bj->bi", s, w_min), dim=-1).max()
        )
        return {
            "layer": ConvexAllocator(n, objective="max_return", risk_limit=limit),
            "inputs": (data["mu"], s),
            "ref": lambda m: max_return_reference(m, s, limit),
            "fd": True,
        }
    if objective == "max_sharpe":
        return {
            "layer": ConvexAllocator(n, objective="max_sharpe"),
            "inputs": (mu, s),
            "ref": lambda m: max_sharpe_reference(m, s),
            "fd": True,
        }
    if objective == "risk_budgeting":
        return {
            "layer": ConvexAllocator(n, objective="risk_budgeting"),
            "inputs": (s,),
            "ref": lambda root: RiskBudgetingAllocator()(root),
        }
    scores = data["scores"] * 16 / n**0.5  # weights down to about 1e-6..1e-8
    if objective == "max_entropy":
        return {
            "layer": ConvexAllocator(n, objective="max_entropy"),
            "inputs": (scores,),
            "ref": lambda z: torch.softmax(z, -1),
        }
    return {  # max_entropy capped
        "layer": ConvexAllocator(n, objective="max_entropy", max_weight=2 / n),
        "inputs": (scores,),
        "ref": lambda z: capped_softmax(z, 2 / n),
    }


def gradient_errors(c: dict[str, Any], weights_c: torch.Tensor) -> torch.Tensor:
    """Relative error of d sum(c * w) / d first input, per sample (batch,)."""
    first, rest = c["inputs"][0], c["inputs"][1:]
    x = first.clone().requires_grad_(True)
    (c["layer"](x, *rest) * weights_c).sum().backward()
    ours = x.grad
    ref_fn: Callable[[torch.Tensor], torch.Tensor] = c["ref"]
    if c.get("fd"):
        h = 1e-6
        direction = torch.randn(first.shape, generator=torch.Generator().manual_seed(7))
        direction = direction.to(first.dtype)
        plus = (ref_fn(first + h * direction) * weights_c).sum(-1)
        minus = (ref_fn(first - h * direction) * weights_c).sum(-1)
        want = (plus - minus) / (2 * h)
        got = (ours * direction).reshape(len(first), -1).sum(-1)
        return (got - want).abs() / want.abs().clamp_min(GRADIENT_FLOOR)
    x_ref = first.clone().requires_grad_(True)
    (ref_fn(x_ref) * weights_c).sum().backward()
    want_g = x_ref.grad.reshape(len(first), -1)
    err = (ours.reshape(len(first), -1) - want_g).norm(dim=-1)
    return err / want_g.norm(dim=-1).clamp_min(GRADIENT_FLOOR)


OBJECTIVES = (
    "mean_variance",
    "min_variance",
    "max_return",
    "max_sharpe",
    "risk_budgeting",
    "max_entropy",
    "max_entropy_capped",
)


def main(per_size: int = 8, objectives: tuple[str, ...] = OBJECTIVES) -> pd.DataFrame:
    warnings.simplefilter("ignore", DeprecationWarning)
    rows = []
    for objective in objectives:
        w_err, smallest, g_errs = 0.0, 1.0, []
        for n in SIZES:
            data = problems(n, per_size, seed=n)
            c = case(objective, n, data)
            weights_c = torch.randn(per_size, n, generator=torch.Generator().manual_seed(1))
            weights_c = weights_c.to(torch.float64)
            with torch.no_grad():
                ours = c["layer"](*c["inputs"])
                ref = c["ref"](c["inputs"][0])
            w_err = max(w_err, float((ours - ref).abs().max()))
            smallest = min(smallest, float(ref.abs().min()))
            g_errs.append(gradient_errors(c, weights_c))
        layer = case(objective, SIZES[0], problems(SIZES[0], 1, 0))["layer"]
        rows.append(
            {
                "objective": objective,
                "solver": layer.solver_args.get("solve_method"),
                "max_abs_weight_error": float(f"{w_err:.2g}"),
                "smallest_weight": float(f"{smallest:.2g}"),
                "median_rel_gradient_error": float(f"{torch.cat(g_errs).median():.2g}"),
                "max_rel_gradient_error": float(f"{torch.cat(g_errs).max():.2g}"),
            }
        )
    table = pd.DataFrame(rows)
    print(f"machine: {machine()}; {per_size} problems per size {SIZES}\n")
    print(markdown_table(table))
    return table


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-size", type=int, default=8)
    parser.add_argument("--objectives", nargs="*", default=list(OBJECTIVES), choices=OBJECTIVES)
    args = parser.parse_args()
    main(args.per_size, tuple(args.objectives))
    print(json.dumps({"done": True}))
