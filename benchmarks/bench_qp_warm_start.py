"""How many warm-start (FISTA) steps the QP layer's compiled forward pass should take.

Forward + backward of ``MarkowitzAllocator`` with its compiled forward pass
(``QPSettings(kernel="compiled")``, numba) at 0, 3, 5 and 10 warm-start steps, on the
problems of ``bench_allocators``, in paired rounds; the ratio is each setting's time
over the time without warm start. Also the active-set steps per sample (mean and most).
The default (``QPSettings.warm_steps = None``) takes none on the compiled pass.

Run: python -m benchmarks.bench_qp_warm_start [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.harness import command_line, emit, machine, paired_rounds
from benchmarks.qp_contenders import Problem, Solve, make_problem
from benchmarks.qp_runner import work

STEPS = (0, 3, 5, 10)
SIZES = ((32, 10), (32, 50), (32, 250))


def _solve(layer: torch.nn.Module, problem: Problem) -> Solve:
    return lambda mu, s: layer(mu, s, problem.gamma, problem.alpha)


def main(argv: list[str] | None = None) -> str:
    from deepalloc.allocators import MarkowitzAllocator, QPSettings, qp_compiled
    from deepalloc.allocators.qp_grad import mean_variance_matrix

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    rows = []
    for batch, n in SIZES[:1] if args.quick else SIZES:
        problem = make_problem(batch, n)
        fns, steps_taken = {}, {}
        p = mean_variance_matrix(problem.s, problem.gamma, problem.alpha)
        bounds = torch.zeros_like(problem.mu), torch.full_like(problem.mu, problem.cap)
        for k in STEPS:
            settings = QPSettings(kernel="compiled", warm_steps=k)
            layer = MarkowitzAllocator(n, max_weight=problem.cap, settings=settings)
            fns[k] = work(_solve(layer, problem), problem)
            result = qp_compiled.solve(
                p.numpy(), problem.mu.numpy(), problem.mu.new_ones(batch, 1).numpy(),
                bounds[0].numpy(), bounds[1].numpy(), warm_steps=k, fallback_warm_steps=10,
                check_every=4,
                fallback_after=8, max_iter=500, tol=1e-9, eps=2.2e-16,
            )  # fmt: skip
            steps_taken[k] = (result.iterations.mean(), int(result.iterations.max()))
        timed = paired_rounds(
            {str(k): f for k, f in fns.items()}, rounds=rounds, warmup=3, min_round_ms=20.0
        )
        for k in STEPS:
            mean, most = steps_taken[k]
            rows.append(
                f"| {batch} x {n} | {k} | {timed.cell(str(k))} | "
                f"{timed.ratio_cell(str(k), '0') if k else '1'} | {mean:.1f} | {most} |"
            )
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_qp_warm_start', argv)}`",
            f"Machine: {machine()}; {rounds} paired rounds after 3 warm-up calls each.",
            "",
            "| batch x assets | warm-start steps | forward + backward ms | time / no warm start: "
            "median (range) | active-set steps per sample, mean | most |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
