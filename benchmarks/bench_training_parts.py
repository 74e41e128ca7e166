"""Where a training step of ``LSTMMarkowitzNet`` goes: each part timed as training runs it.

One step (32 samples x 20 assets, lookback 40, bidirectional LSTM of 16 units, attention
pooling, Ledoit-Wolf covariance with a Cholesky root, ``MarkowitzAllocator`` with cap
1, Sharpe loss, the default Adam) is cut into its parts, each run on the tensors that
part sees in training, and all of them are timed in the same paired rounds:

- ``InstanceNorm``, ``covariance + root``: forward only (they read the data, which
  needs no gradient);
- ``LSTM``: forward and backward of the recurrence alone (the floor of the design);
- ``attention pooling``, ``mean-variance head (QP)``, ``loss``: forward and backward;
- ``Adam``: ``zero_grad`` and ``step``.

``--compile`` adds ``torch.compile`` of the pooling and of the covariance estimator
(the QP is left out: its convergence checks read values on the host). Times are
medians of paired rounds after warm-up; the share is of the whole step's median.

Run: python -m benchmarks.bench_training_parts [--threads 1] [--rounds 15] [--compile]
[--quick] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch

from benchmarks.bench_deepdow import _synthetic
from benchmarks.harness import (
    add_retain_memory_flag,
    apply_retain_memory_flag,
    command_line,
    emit,
    fmt_ms,
    machine,
    paired_rounds,
)
from deepalloc.losses import SharpeLoss
from deepalloc.networks import LSTMMarkowitzNet
from deepalloc.training import DEFAULT_OPTIMIZER


def parts(compile_parts: bool) -> dict[str, Callable[[], object]]:
    """Name -> one call of that part (see the module docstring)."""
    torch.manual_seed(0)
    x, y = _synthetic()
    xb, yb = x[:32], y[:32]
    net = LSTMMarkowitzNet(1, hidden_size=16, bidirectional=True, pool="attention")
    norm, rnn, pool = net.body
    head, loss = net.head, SharpeLoss()
    optimizer = DEFAULT_OPTIMIZER(net.parameters())
    with torch.no_grad():
        normed = norm(xb)
        hidden = rnn(normed)
        features = pool(hidden)
        weights = net(xb)
    g_hidden = torch.randn_like(hidden)
    g_features = torch.randn_like(features)
    g_weights = torch.randn_like(weights)
    hidden_in = hidden.clone().requires_grad_(True)  # keeps the LSTM's memory layout
    features_in = features.clone().requires_grad_(True)
    weights_in = weights.clone().requires_grad_(True)

    def step() -> None:
        optimizer.zero_grad()
        loss(net(xb), yb).mean().backward()
        optimizer.step()

    def backward(out: torch.Tensor, grad: torch.Tensor, *leaves: torch.Tensor) -> None:
        for leaf in leaves:
            leaf.grad = None
        out.backward(grad)

    def adam() -> None:
        optimizer.zero_grad()
        for p in net.parameters():
            p.grad = torch.zeros_like(p) if p.grad is None else p.grad
        optimizer.step()

    out: dict[str, Callable[[], object]] = {
        "whole step": step,
        "InstanceNorm (forward)": lambda: norm(xb),
        "LSTM (forward + backward)": lambda: backward(rnn(normed), g_hidden),
        "attention pooling": lambda: backward(pool(hidden_in), g_features, hidden_in),
        "covariance + root (forward)": lambda: head.covariance(xb),
        "mean-variance head with the QP": lambda: backward(
            head(features_in, xb), g_weights, features_in
        ),
        "loss": lambda: backward(loss(weights_in, yb).mean(), torch.ones(()), weights_in),
        "Adam (zero_grad + step)": adam,
    }
    if compile_parts:
        pool_c = torch.compile(pool)
        cov_c = torch.compile(head.covariance)
        out["attention pooling, compiled"] = lambda: backward(
            pool_c(hidden_in), g_features, hidden_in
        )
        out["covariance + root (forward), compiled"] = lambda: cov_c(xb)
    return out


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--quick", action="store_true", help="3 rounds, to check the script")
    parser.add_argument("--output", default=None)
    add_retain_memory_flag(parser)
    args = parser.parse_args(argv)
    memory = apply_retain_memory_flag(args)
    if args.quick:
        args.rounds = 3
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = "/".join(f"{v:.1f}" for v in os.getloadavg())
    fns = parts(args.compile)
    timed = paired_rounds(fns, rounds=args.rounds, warmup=3, min_round_ms=20.0)
    whole = timed.median_ms("whole step")
    lines = [
        "| part | ms (median) | min | share of the step | part / LSTM: median (range) |",
        "|---|---|---|---|---|",
    ]
    for name in fns:
        ms = timed.median_ms(name)
        lowest = min(timed.times[name]) if timed.times.get(name) else float("nan")
        lines.append(
            f"| {name} | {fmt_ms(ms)} | {fmt_ms(lowest)} | {100 * ms / whole:.0f}% | "
            f"{timed.ratio_cell(name, 'LSTM (forward + backward)')} |"
        )
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_training_parts', argv)}`",
            f"Machine: {machine()}; load average (1/5/15 min) {load_before} before, "
            + "/".join(f"{v:.1f}" for v in os.getloadavg())
            + f" after; {args.rounds} paired rounds after 3 warm-up calls each; {memory}",
            "",
            *lines,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
