"""Forward+backward time per batch of ready networks: 32 samples x 20 assets x lookback 60.

Run: .venv/bin/python -m benchmarks.bench_networks
"""

from __future__ import annotations

import torch

from benchmarks.harness import machine, median_ms
from deepalloc.losses import SharpeLoss
from deepalloc.networks import ConvNet, DenseNet, LSTMMarkowitzNet, LSTMNet


def main() -> dict[str, float]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 1, 20, 60, generator=gen) * 0.01
    y = torch.randn(32, 1, 20, 20, generator=gen) * 0.01
    loss = SharpeLoss()
    nets = {
        "LSTMNet": LSTMNet(1),
        "LSTMMarkowitzNet": LSTMMarkowitzNet(1, max_weight=0.2),
        "DenseNet": DenseNet(1, 60),
        "ConvNet": ConvNet(1, 60),
    }
    results = {}
    for name, net in nets.items():

        def step(net=net):
            net.zero_grad()
            loss(net(x), y).mean().backward()

        results[name] = median_ms(step, repeat=20, warmup=3)
    print(f"machine: {machine()}")
    print("| network | forward+backward ms per batch (32 x 20 x 60) |")
    print("|---|---|")
    for name, ms in results.items():
        print(f"| {name} | {ms:.1f} |")
    return results


if __name__ == "__main__":
    main()
