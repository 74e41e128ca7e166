"""Forward+backward time of MarkowitzAllocator vs cvxpylayers' default solver.

The cvxpylayers problem is DeepDow's NumericalMarkowitz formulation (maximise
mu'w - gamma ||S w||^2 - alpha ||w||^2, budget, 0 <= w <= cap) written DPP-compliantly
(sqrt(gamma) folded into S), solved by cvxpylayers' default (diffcp + SCS, default
settings). The floor is a batched ``torch.linalg.solve`` of the same size followed by a
softmax. Every ratio is measured in the same run.

Run: .venv/bin/python -m benchmarks.bench_allocators [--quick]
"""

from __future__ import annotations

import argparse

import cvxpy as cp
import torch
from cvxpylayers.torch import CvxpyLayer

from benchmarks.harness import machine, median_ms
from deepalloc.allocators import MarkowitzAllocator

SIZES = [(32, 10), (32, 50), (32, 100), (32, 250), (256, 50)]


def problem(batch: int, n: int, seed: int = 0, device: str = "cpu"):
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(batch, n, generator=g, dtype=torch.float64) * 0.05
    s = torch.randn(batch, n, n, generator=g, dtype=torch.float64) * 0.2 / n**0.5
    gamma = torch.exp(torch.randn(batch, generator=g, dtype=torch.float64))
    alpha = torch.full((batch,), 0.01, dtype=torch.float64)
    return [t.to(device) for t in (mu, s, gamma, alpha)]


def cvxpylayers_markowitz(n: int, cap: float) -> CvxpyLayer:
    w = cp.Variable(n)
    mu = cp.Parameter(n)
    risk = cp.Parameter((n, n))
    ridge = cp.Parameter(nonneg=True)
    obj = cp.Maximize(mu @ w - cp.sum_squares(risk @ w) - cp.sum_squares(ridge * w))
    return CvxpyLayer(cp.Problem(obj, [cp.sum(w) == 1, w >= 0, w <= cap]), [mu, risk, ridge], [w])


def fwd_bwd(fn, inputs):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = fn(*xs)
    out.pow(2).sum().backward()
    return out


def measure(batch: int, n: int, repeat: int, device: str) -> dict[str, float]:
    """Time deepalloc, the cvxpylayers reference (CPU only) and the floor at one size."""
    cap = max(2.0 / n, 0.1)
    inputs = problem(batch, n, device=device)
    fast = MarkowitzAllocator(n, max_weight=cap)
    layer = cvxpylayers_markowitz(n, cap)

    def reference(mu, s, gamma, alpha):
        (w,) = layer(mu, gamma.sqrt()[:, None, None] * s, alpha.sqrt())
        return w

    def floor(mu, s, gamma, alpha):
        cov = s.transpose(1, 2) @ s + torch.eye(n, dtype=s.dtype, device=s.device)
        return torch.softmax(torch.linalg.solve(cov, mu), dim=-1)

    w_fast = fwd_bwd(fast, inputs).detach().cpu()
    row = {
        "batch": batch,
        "n": n,
        "deepalloc_ms": median_ms(lambda: fwd_bwd(fast, inputs), repeat=repeat),
        "floor_ms": median_ms(lambda: fwd_bwd(floor, inputs), repeat=repeat),
    }
    if device == "cpu":
        w_ref = fwd_bwd(reference, inputs).detach()
        row["cvxpylayers_ms"] = median_ms(lambda: fwd_bwd(reference, inputs), repeat=3, warmup=0)
        row["max_abs_diff"] = float((w_ref - w_fast).abs().max())
    return row


def main(quick: bool = False, device: str = "cpu") -> list[dict[str, float]]:
    rows = []
    for batch, n in SIZES[:2] if quick else SIZES:
        rows.append(measure(batch, n, 3 if quick else 7, device))
        print(rows[-1], flush=True)
    print(f"\nmachine: {machine()}, device {device}\n")
    print(
        "| batch x assets | deepalloc ms | cvxpylayers ms | speed-up | floor ms | deepalloc / floor | max |w - w_cvxpylayers| |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ref = r.get("cvxpylayers_ms", float("nan"))
        print(
            f"| {r['batch']} x {r['n']} | {r['deepalloc_ms']:.1f} | {ref:.0f} | "
            f"{ref / r['deepalloc_ms']:.0f}x | {r['floor_ms']:.1f} | "
            f"{r['deepalloc_ms'] / r['floor_ms']:.1f} | {r.get('max_abs_diff', float('nan')):.1e} |"
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    main(args.quick, args.device)
