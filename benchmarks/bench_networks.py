"""One training step (forward, Sharpe loss, backward) of ready networks, per batch of
32 samples x 20 assets x lookback 60, float32, in paired rounds.

Networks that a checkout does not have yet (the TCN family of issue 17) are listed as
missing rather than left out silently.

Run: python -m benchmarks.bench_networks [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.harness import command_line, emit, machine, paired_rounds
from deepalloc import networks
from deepalloc.losses import SharpeLoss

# name -> keyword arguments (besides the number of input channels)
NETWORKS: dict[str, dict[str, object]] = {
    "LSTMNet": {},
    "LSTMMarkowitzNet": {"max_weight": 0.2},
    "DenseNet": {"lookback": 60},
    "ConvNet": {"lookback": 60},
    "TCNNet": {},
    "TCNMarkowitzNet": {"max_weight": 0.2},
}
BASE = "LSTMNet"


def build() -> tuple[dict[str, nn.Module], dict[str, str]]:
    nets: dict[str, nn.Module] = {}
    missing: dict[str, str] = {}
    for name, kwargs in NETWORKS.items():
        cls = getattr(networks, name, None)
        if cls is None:
            missing[name] = "not in deepalloc.networks"
            continue
        try:
            lookback = kwargs.get("lookback")
            rest = {k: v for k, v in kwargs.items() if k != "lookback"}
            nets[name] = cls(1, lookback, **rest) if lookback else cls(1, **rest)
        except TypeError as exc:
            missing[name] = f"constructor: {exc}"
    return nets, missing


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 20)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, 20, 60, generator=gen) * 0.01
    y = torch.randn(32, 1, 20, 20, generator=gen) * 0.01
    loss = SharpeLoss()
    nets, missing = build()

    def step(net: nn.Module) -> Callable[[], None]:
        def call() -> None:
            net.zero_grad()
            loss(net(x), y).mean().backward()

        return call

    timed = paired_rounds({name: step(net) for name, net in nets.items()}, rounds=rounds, warmup=3)
    rows = [
        f"| {name} | {timed.cell(name)} | {'1' if name == BASE else timed.ratio_cell(name, BASE)} |"
        for name in nets
    ]
    rows += [f"| {name} | missing: {why} | — |" for name, why in missing.items()]
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_networks', argv)}`",
            f"Machine: {machine()}; {rounds} paired rounds after 3 warm-up steps each.",
            "",
            f"| network | ms per step (32 x 20 x 60) | time / {BASE}'s: median (range) |",
            "|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
