"""The mean-variance QP layer against every differentiable QP layer, and against the floor.

Same problems for all (:mod:`benchmarks.qp_contenders`): float64, maximise
mu'w - gamma ||S w||^2 - alpha ||w||^2 s.t. sum(w) = 1, 0 <= w <= cap (cap 0.3 at 10
assets, ``1 / cap`` kept off the integers so that no optimum is a degenerate vertex),
per-sample gamma, forward + backward with gradients in mu and the covariance root S. Contenders: deepalloc's ``MarkowitzAllocator``, proxsuite's
QPLayer, qpth, cvxpylayers' default (diffcp + SCS) and the floor (form Q, one batched
Cholesky solve of the budget-only problem, implicit backward on the same factor).

Timing: paired rounds (:func:`benchmarks.harness.paired_rounds`): warm-up outside the
timed region, then every round times each contender once; a ratio is the median of the
per-round ratios with its range. Accuracy, on the same problems: weights against
Clarabel at 1e-10 polished on its active set, gradients against the exact active-set
formula (:mod:`benchmarks.qp_reference`).

Run: python -m benchmarks.bench_allocators [--quick] [--sizes 32x10,32x50] [--output FILE]
Needs the ``bench`` extra for proxsuite and ``pip install --no-deps qpth`` for qpth;
a contender that is missing, crashes or hangs is reported as such.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.harness import command_line, emit, machine, paired_rounds
from benchmarks.qp_contenders import CONTENDERS, deepalloc_kernel, forward_backward, make_problem
from benchmarks.qp_reference import accuracy, reference
from benchmarks.qp_runner import build, work

SIZES = [(32, 10), (32, 50), (32, 100), (32, 250), (256, 50)]
HEADER = (
    "| batch x assets | layer | median ms | time / deepalloc's: median (range) | "
    "max abs error in w | error in grad mu | error in grad S |\n|---|---|---|---|---|---|---|"
)


def measure(
    batch: int, n: int, names: list[str], *, rounds: int, warmup: int, device: str, check: bool
) -> tuple[list[str], str]:
    """Table rows for one size, and a line on the reference."""
    problem = make_problem(batch, n).to(device)
    solves, skipped = build(names, problem, device=device, seed=0)
    errors: dict[str, tuple[str, str, str]] = {}
    note = ""
    ref = None
    if check:
        try:
            ref = reference(problem.to("cpu"))
        except RuntimeError as exc:
            note = f"{batch} x {n}: no reference, so no errors: {exc}"
    if ref is not None:
        note = (
            f"{batch} x {n}: cap {problem.cap:g}; smallest complementarity margin "
            f"{ref.margin:.1e}; Clarabel (1e-10) differs from its polished solution by "
            f"{ref.clarabel_gap:.1e}"
        )
        for name in list(solves):
            if name == "floor":
                continue
            try:
                w, g_mu, g_s = (t.cpu().numpy() for t in forward_backward(solves[name], problem))
            except Exception as exc:
                skipped[name] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
                del solves[name]
                continue
            errors[name] = accuracy(ref, w, g_mu, g_s).cells()
    timed = paired_rounds(
        {name: work(solve, problem) for name, solve in solves.items()},
        rounds=rounds,
        warmup=warmup,
        min_round_ms=20.0,
        device=device,
    )
    rows = []
    for name in names:
        size = f"{batch} x {n}"
        if name in skipped or name in timed.errors:
            why = skipped.get(name) or timed.errors[name]
            rows.append(f"| {size} | {name} | failed or skipped: {why} | — | — | — | — |")
            continue
        ratio = timed.ratio_cell(name, "deepalloc") if name != "deepalloc" else "1"
        if name == "floor" and timed.ratio("deepalloc", "floor") is not None:
            ratio += f"; deepalloc / floor {timed.ratio('deepalloc', 'floor')}"
        acc = errors.get(name, ("—", "—", "—") if name == "floor" else ("n/c",) * 3)
        rows.append(f"| {size} | {name} | {timed.cell(name)} | {ratio} | {' | '.join(acc)} |")
    return rows, note


def run(
    sizes: list[tuple[int, int]],
    names: list[str],
    *,
    rounds: int,
    warmup: int,
    device: str,
    check: bool,
    command: str,
) -> str:
    rows: list[str] = []
    notes: list[str] = []
    for batch, n in sizes:
        size_rows, note = measure(
            batch, n, names, rounds=rounds, warmup=warmup, device=device, check=check
        )
        rows += size_rows
        notes += [note] if note else []
        print("\n".join(size_rows), flush=True)
    lines = [
        f"Command: `{command}`",
        f"Machine: {machine()}; device {device}; {rounds} paired rounds after {warmup} "
        "warm-up calls each (fast layers repeat within a round to fill 20 ms); "
        f"{deepalloc_kernel()}.",
        "",
        HEADER,
        *rows,
        "",
        "Errors: weights max abs vs Clarabel polished on its active set; gradients max abs "
        "vs the exact active-set formula, relative to the largest reference entry. "
        "The floor solves the budget-only problem (no error column).",
        "",
        *(f"- {note}" for note in notes),
    ]
    return "\n".join(lines)


def _sizes(text: str) -> list[tuple[int, int]]:
    out = []
    for item in text.split(","):
        b, n = item.lower().split("x")
        out.append((int(b), int(n)))
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two sizes, 3 rounds")
    parser.add_argument("--sizes", default=None, help="e.g. 32x10,32x50")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--no-accuracy", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--output", default=None, help="also write the Markdown here")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = _sizes(args.sizes) if args.sizes else (SIZES[:2] if args.quick else SIZES)
    rounds = args.rounds or (3 if args.quick else 7)
    text = run(
        sizes,
        args.contenders.split(","),
        rounds=rounds,
        warmup=args.warmup,
        device=args.device,
        check=not args.no_accuracy,
        command=command_line("benchmarks.bench_allocators", argv),
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
