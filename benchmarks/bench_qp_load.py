"""The QP layer on a busy machine: its thread choice against forced 1 and 2 threads and
cvxpylayers, with and without a second process burning one core.

Forward + backward on the problems of ``bench_allocators``, torch set to 2 intra-op
threads (``--threads``). Contenders, in paired rounds: ``MarkowitzAllocator`` with its
default settings (``QPSettings.threads = None``: one thread for small problems, torch's
setting above :data:`deepalloc.allocators.qp.SINGLE_THREAD_WORK`), the same forced to
2 threads (``QPSettings(threads=2)``: the layer's behaviour before issue 17) and to 1,
and cvxpylayers' default (diffcp + SCS; diffcp's own thread pool as it comes). Each
size is measured twice: on the machine as it is, then while this script runs a child
process that spins on one core (``while True: pass``), stopped right after.

Run: python -m benchmarks.bench_qp_load [--quick] [--sizes 32x10,32x50] [--output FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

from benchmarks.harness import PairedTimes, command_line, emit, machine, paired_rounds
from benchmarks.qp_contenders import Problem, cvxpylayers_layer, make_problem
from benchmarks.qp_runner import work

SIZES = [(32, 10), (32, 50), (256, 50)]
NAMES = ("deepalloc, auto", "deepalloc, 2 threads", "deepalloc, 1 thread", "cvxpylayers")


@contextmanager
def burning_core() -> Iterator[subprocess.Popen[bytes]]:
    """A child process spinning on one core for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _layer(problem: Problem, threads: int | None) -> Callable[[], object]:
    from deepalloc.allocators import MarkowitzAllocator, QPSettings

    layer = MarkowitzAllocator(
        problem.n, max_weight=problem.cap, settings=QPSettings(threads=threads)
    )
    return work(lambda mu, s: layer(mu, s, problem.gamma, problem.alpha), problem)


def contenders(problem: Problem, cvxpylayers: bool = True) -> dict[str, Callable[[], object]]:
    fns = {
        NAMES[0]: _layer(problem, None),
        NAMES[1]: _layer(problem, 2),
        NAMES[2]: _layer(problem, 1),
    }
    if cvxpylayers:
        fns[NAMES[3]] = work(cvxpylayers_layer(problem), problem)
    return fns


def row(load: str, batch: int, n: int, timed: PairedTimes) -> str:
    auto, two, one, cvx = NAMES
    timed_cvx = cvx in timed.times
    cells = [timed.cell(name) if name in timed.times else "—" for name in NAMES]
    ratios = [
        timed.ratio_cell(cvx, auto) if timed_cvx else "—",
        timed.ratio_cell(cvx, two) if timed_cvx else "—",
        timed.ratio_cell(two, one),
        timed.ratio_cell(auto, one),
    ]
    return f"| {load} | {batch} x {n} | {' | '.join(cells)} | {' | '.join(ratios)} |"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one size, 3 rounds")
    parser.add_argument("--sizes", default=None, help="e.g. 32x10,32x50")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    parser.add_argument(
        "--no-cvxpylayers", action="store_true", help="time deepalloc only (large sizes)"
    )
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    sizes: list[tuple[int, int]]
    if args.sizes:
        pairs = [s.lower().split("x") for s in args.sizes.split(",")]
        sizes = [(int(b), int(n)) for b, n in pairs]
    else:
        sizes = SIZES[1:2] if args.quick else SIZES
    rounds = args.rounds or (3 if args.quick else 7)
    rows = []
    for batch, n in sizes:
        problem = make_problem(batch, n)
        fns = contenders(problem, cvxpylayers=not args.no_cvxpylayers)
        kwargs = {"rounds": rounds, "warmup": args.warmup, "min_round_ms": 20.0}
        rows.append(row("as it is", batch, n, paired_rounds(fns, **kwargs)))
        print(rows[-1], flush=True)
        with burning_core():
            rows.append(row("one core burnt", batch, n, paired_rounds(fns, **kwargs)))
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_qp_load', argv)}`",
            f"Machine: {machine()}; {rounds} paired rounds after {args.warmup} warm-up "
            "calls each, per load.",
            "",
            "| load | batch x assets | deepalloc auto ms | deepalloc 2 threads ms | "
            "deepalloc 1 thread ms | cvxpylayers ms | cvxpylayers / deepalloc auto | "
            "cvxpylayers / deepalloc 2 threads | 2 threads / 1 thread | auto / 1 thread |",
            "|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
