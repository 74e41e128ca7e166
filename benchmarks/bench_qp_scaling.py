"""How the QP layer's time grows with assets and with batch, next to the floor's.

Forward + backward of ``MarkowitzAllocator`` (compiled forward pass where numba is
installed, and the vectorised one) and of the floor (form Q, one batched
Cholesky solve of the budget-only problem and its implicit backward; see
:mod:`benchmarks.qp_contenders`) on the problems of ``bench_allocators``, in paired
rounds at every point: assets 10 to 500 at batch 32, and batch 8 to 1,024 at 50 assets.
Reported: the median times, the per-round ratio layer / floor, the local exponents
between neighbouring sizes, and power-law exponents ``time ~ size^k`` fitted by least
squares on log-log over the whole range and over its upper half (where fixed per-call
costs matter less).

Run: python -m benchmarks.bench_qp_scaling [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.harness import (
    command_line,
    emit,
    local_exponents,
    machine,
    paired_rounds,
    power_law_exponent,
)
from benchmarks.qp_contenders import deepalloc_kernel, floor_layer, make_problem
from benchmarks.qp_runner import build, work

ASSETS = [10, 20, 50, 100, 200, 500]
BATCHES = [8, 32, 128, 512, 1024]


def sweep(
    axis: str, sizes: list[int], *, rounds: int, warmup: int, device: str
) -> tuple[list[str], dict[str, list[float]]]:
    """Rows for one axis, and the median times of each layer along it."""
    medians: dict[str, list[float]] = {"deepalloc": [], "floor": []}
    rows = []
    for size in sizes:
        batch, n = (32, size) if axis == "assets" else (size, 50)
        problem = make_problem(batch, n).to(device)
        solves, skipped = build(
            ["deepalloc", "deepalloc_vectorised"], problem, device=device, seed=0
        )
        solves["floor"] = floor_layer(problem)
        timed = paired_rounds(
            {name: work(s, problem) for name, s in solves.items()},
            rounds=rounds,
            warmup=warmup,
            min_round_ms=20.0,
            device=device,
        )
        failed = {**skipped, **timed.errors}
        if failed:
            raise RuntimeError(f"{axis} {size}: {failed}")
        for name in medians:
            medians[name].append(timed.median_ms(name))
        rows.append(
            f"| {batch} x {n} | {timed.cell('deepalloc')} | {timed.cell('deepalloc_vectorised')} "
            f"| {timed.cell('floor')} | {timed.ratio_cell('deepalloc', 'floor')} | "
            f"{timed.ratio_cell('deepalloc_vectorised', 'deepalloc')} |"
        )
        print(rows[-1], flush=True)
    for name in medians:
        local = local_exponents(sizes, medians[name])
        for i, k in enumerate(local):
            rows[i + 1] += f" {k:.2f} |"  # deepalloc's column first, then the floor's
    rows[0] += " — | — |"
    return rows, medians


def fits(axis: str, sizes: list[int], medians: dict[str, list[float]]) -> list[str]:
    half = len(sizes) // 2
    out = []
    for label, lo in (("all", 0), ("upper half", half)):
        span = f"{sizes[lo]}-{sizes[-1]}"
        ks = [power_law_exponent(sizes[lo:], medians[name][lo:]) for name in medians]
        out.append(f"| {axis} | {span} ({label}) | {ks[0]:.2f} | {ks[1]:.2f} |")
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, 3 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rounds = args.rounds or (3 if args.quick else 7)
    assets = [10, 50, 200] if args.quick else ASSETS
    batches = [8, 64, 512] if args.quick else BATCHES
    header = (
        "| batch x assets | deepalloc ms | vectorised ms | floor ms | "
        "deepalloc / floor: median (range) | vectorised / deepalloc: median (range) | "
        "local exponent, deepalloc | local exponent, floor |\n|---|---|---|---|---|---|---|---|"
    )
    fit_rows = []
    tables = []
    for axis, sizes in (("assets", assets), ("batch", batches)):
        rows, medians = sweep(axis, sizes, rounds=rounds, warmup=args.warmup, device=args.device)
        tables += [f"By {axis}:", "", header, *rows, ""]
        fit_rows += fits(axis, sizes, medians)
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_qp_scaling', argv)}`",
            f"Machine: {machine()}; device {args.device}; {rounds} paired rounds after "
            f"{args.warmup} warm-up calls each; {deepalloc_kernel()} (vectorised: "
            "the same layer with QPSettings(kernel='vectorised')).",
            "",
            *tables,
            "Fitted exponents (time ~ size^k, least squares on log-log):",
            "",
            "| axis | range | deepalloc k | floor k |",
            "|---|---|---|---|",
            *fit_rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
