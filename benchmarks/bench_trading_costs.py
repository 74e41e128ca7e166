"""The mean-variance layer with trading costs against the plain layer (issue 21).

Same problems as :mod:`benchmarks.bench_allocators` (:func:`benchmarks.qp_contenders.
make_problem`: float64, per-sample gamma, alpha = 0.01, a cap that binds), plus the
portfolio held before the trade: the plain layer's weights for a perturbed ``mu`` (last
period's decision), so that a realistic share of assets stays untraded under the
proportional cost. Contenders, forward + backward (the gradient of a fixed random linear
function of the weights):

- ``plain``: ``MarkowitzAllocator``, gradients in mu and the covariance root S;
- ``plain, vectorised``: the same with ``QPSettings(kernel="vectorised")``: the layer
  without its compiled forward pass (numba), which the proportional cost never takes;
- ``quadratic``: ``trading_cost="quadratic"``, ``kappa ||w - w_prev||^2`` with a
  per-asset rate around ``--kappa-quadratic``, gradients in mu, S, ``w_prev`` and kappa;
- ``proportional``: ``trading_cost="proportional"``, ``kappa ||w - w_prev||_1`` with a
  per-asset rate around ``--kappa-proportional``, the same gradients.

Timing: paired rounds (:func:`benchmarks.harness.paired_rounds`: warm-up outside the
timed region, then the contenders in rotating order); a ratio is the median of
the per-round ratios (cost layer / plain) with its range. Accuracy on the same problems:
the largest weight difference to Clarabel at 1e-12 over the first ``--check`` samples,
and the share of assets left untraded (``|w - w_prev| < 1e-12``) among those held before
or after the trade.

Run: python -m benchmarks.bench_trading_costs [--quick] [--sizes 32x50] [--output FILE]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch

from benchmarks.harness import command_line, emit, machine, paired_rounds
from benchmarks.qp_contenders import Problem, make_problem

MODELS = ("quadratic", "proportional")
NAMES = ("plain", *MODELS)


def held_before(problem: Problem, seed: int = 1) -> torch.Tensor:
    """Last period's decision: the plain layer's weights for a perturbed ``mu``."""
    from deepalloc.allocators import MarkowitzAllocator

    g = torch.Generator().manual_seed(seed)
    mu = problem.mu + 0.5 * problem.mu.std() * torch.randn(problem.mu.shape, generator=g)
    layer = MarkowitzAllocator(problem.n, max_weight=problem.cap)
    with torch.no_grad():
        return layer(mu.to(problem.mu), problem.s, problem.gamma, problem.alpha)


def rates(problem: Problem, level: float, seed: int = 2) -> torch.Tensor:
    """Per-asset rates, (batch, asset), uniform in ``[level / 2, 3 level / 2]``."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(problem.mu.shape, generator=g, dtype=problem.mu.dtype)
    return level * (0.5 + u)


def contender(
    problem: Problem,
    model: str | None,
    prev: torch.Tensor,
    kappa: torch.Tensor,
    kernel: str = "auto",
) -> Callable[[], object]:
    """One forward + backward of the layer (``model=None``: the plain layer)."""
    from deepalloc.allocators import MarkowitzAllocator, QPSettings

    layer = MarkowitzAllocator(
        problem.n, max_weight=problem.cap, trading_cost=model, settings=QPSettings(kernel=kernel)
    )

    def run() -> object:
        mu = problem.mu.clone().requires_grad_(True)
        s = problem.s.clone().requires_grad_(True)
        if model is None:
            w = layer(mu, s, problem.gamma, problem.alpha)
            leaves = [mu, s]
        else:
            p, k = prev.clone().requires_grad_(True), kappa.clone().requires_grad_(True)
            w = layer(mu, s, problem.gamma, problem.alpha, p, k)
            leaves = [mu, s, p, k]
        return torch.autograd.grad((w * problem.v).sum(), leaves)

    return run


def clarabel_error(
    problem: Problem, model: str, prev: torch.Tensor, kappa: torch.Tensor, samples: int
) -> tuple[float, float]:
    """Largest ``|w - w_Clarabel|`` over the first ``samples`` samples, and the share
    of assets untraded over the whole batch among those held before or after."""
    import cvxpy as cp

    from deepalloc.allocators import MarkowitzAllocator

    layer = MarkowitzAllocator(problem.n, max_weight=problem.cap, trading_cost=model)
    with torch.no_grad():
        w = layer(problem.mu, problem.s, problem.gamma, problem.alpha, prev, kappa)
    worst = 0.0
    for i in range(min(samples, problem.mu.shape[0])):
        mu, s, p, k = (t[i].numpy() for t in (problem.mu, problem.s, prev, kappa))
        x = cp.Variable(problem.n)
        cost = k @ cp.square(x - p) if model == "quadratic" else k @ cp.abs(x - p)
        risk = problem.gamma[i].item() * cp.sum_squares(s @ x)
        risk = risk + problem.alpha[i].item() * cp.sum_squares(x)
        constraints = [cp.sum(x) == 1, x >= 0, x <= problem.cap]
        cp.Problem(cp.Maximize(mu @ x - risk - cost), constraints).solve(
            solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
        )
        worst = max(worst, float(np.abs(w[i].numpy() - x.value).max()))
    held = (prev > 1e-12) | (w > 1e-12)  # assets at zero before and after are left out
    untraded = float(((w - prev).abs() < 1e-12)[held].double().mean())
    return worst, untraded


def measure(
    batch: int, n: int, levels: dict[str, float], rounds: int, warmup: int, check: int
) -> list[str]:
    """Table rows for one size."""
    problem = make_problem(batch, n)
    prev = held_before(problem)
    kappas = {m: rates(problem, levels[m]) for m in MODELS}
    vectorised = "plain, vectorised"
    fns = {"plain": contender(problem, None, prev, kappas["quadratic"])}
    fns[vectorised] = contender(problem, None, prev, kappas["quadratic"], "vectorised")
    fns |= {m: contender(problem, m, prev, kappas[m]) for m in MODELS}
    timed = paired_rounds(fns, rounds=rounds, warmup=warmup, min_round_ms=20.0)
    rows = [f"| {batch} x {n} | plain | - | {timed.cell('plain')} | 1 | "
            f"{timed.ratio_cell('plain', vectorised)} | - | - |"]  # fmt: skip
    rows.append(
        f"| {batch} x {n} | {vectorised} | - | {timed.cell(vectorised)} | "
        f"{timed.ratio_cell(vectorised, 'plain')} | 1 | - | - |"
    )
    for m in MODELS:
        error, untraded = clarabel_error(problem, m, prev, kappas[m], check) if check else (0, 0)
        accuracy = f"{error:.1e}" if check else "-"
        share = f"{untraded:.0%}" if check else "-"
        cells = [timed.cell(m), timed.ratio_cell(m, "plain"), timed.ratio_cell(m, vectorised)]
        cells += [accuracy, share]
        rows.append(f"| {batch} x {n} | {m} | {levels[m]:g} | {' | '.join(cells)} |")
    return rows


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 x 10, 3 rounds")
    parser.add_argument("--sizes", default=None, help="e.g. 32x50,256x50 (default 32x50)")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--kappa-quadratic", type=float, default=0.05)
    parser.add_argument("--kappa-proportional", type=float, default=0.002)
    parser.add_argument("--check", type=int, default=8, help="samples checked vs Clarabel")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.sizes:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    else:
        sizes = [(8, 10)] if args.quick else [(32, 50)]
    rounds = args.rounds or (3 if args.quick else 15)
    levels = {"quadratic": args.kappa_quadratic, "proportional": args.kappa_proportional}
    rows = []
    for batch, n in sizes:
        rows += measure(batch, n, levels, rounds, args.warmup, args.check)
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_trading_costs', argv)}`",
            f"Machine: {machine()}; {rounds} paired rounds (plain, plain vectorised, quadratic, "
            f"proportional) after {args.warmup} warm-up calls each.",
            "",
            "| batch x assets | layer | kappa (per-asset, x0.5-1.5) | median ms | "
            "time / plain: median (range) | time / plain, vectorised: median (range) | "
            "max abs(w - w_Clarabel) | held assets untraded |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
