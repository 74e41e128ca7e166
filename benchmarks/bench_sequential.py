"""Training time per epoch: sequential (after-cost path) mode vs the ordinary mode.

The same network (the trading-costs example's TCN, four blocks of 16 channels, softmax
allocator, holdings-aware: the ordinary mode hands it no holdings, i.e. cash) on the
same training samples (the bundled S&P 500 stocks, 20 assets, windows of 60 days with a
20-day target, 2005 to 2016: the example's first fold), the same Sharpe loss and Adam:

- ordinary: every training window once per epoch, shuffled, batches of 64;
- sequential: runs of 12 decisions 20 samples apart (the example's settings: 25 bps,
  truncation every 6 decisions, 4 runs per step), the runs tiling the block once per
  epoch, so an epoch decides on about one window in 20 (every decision of a run is a
  forward and backward pass through the network, in time order).

One epoch is the loader's batches, each ``batch_loss`` (the loop's own) + backward +
Adam step. Timed in paired rounds after warm-up epochs; also per window decided, since
the two modes' epochs hold different numbers of windows.

Run: python -m benchmarks.bench_sequential [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

import torch

from benchmarks.harness import RatioSummary, command_line, emit, machine, paired_rounds
from deepalloc.data import (
    SequentialLoader,
    WindowLoader,
    make_windows,
    prices_to_returns,
)
from deepalloc.datasets import load_sp500
from deepalloc.losses import SharpeLoss
from deepalloc.networks import TCNNet
from deepalloc.training.step import batch_loss


def epoch(network: torch.nn.Module, loader: object) -> Callable[[], int]:
    """One training epoch over ``loader``; returns the windows it decided on."""
    loss = SharpeLoss()
    opt = torch.optim.Adam(network.parameters(), lr=3e-3)

    def call() -> int:
        network.train()
        windows = 0
        for batch in loader:  # type: ignore[attr-defined]
            value = batch_loss(network, loss, batch, loader, None, None)
            opt.zero_grad()
            value.backward()
            opt.step()
            x = batch.x if hasattr(batch, "x") else batch[0]
            windows += x.shape[0] * (x.shape[1] if x.ndim == 5 else 1)
        return windows

    return call


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds, one year of data")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)
    returns = prices_to_returns(load_sp500().loc["2005-01-01":"2016-12-31"])
    if args.quick:
        returns = returns.loc["2016-01-01":]
    windows = make_windows(returns, lookback=60, horizon=20)
    train = torch.arange(len(windows)).numpy()
    ordinary = WindowLoader(windows, train, batch_size=64, shuffle=True, generator=0)
    run_length = 12 if not args.quick else 4
    sequential = SequentialLoader(
        windows,
        train,
        run_length=run_length,
        stride=20,
        batch_size=4,
        shuffle=True,
        generator=0,
        costs_bps=25.0,
        truncate_every=6,
    )
    nets = {}
    for name in ("ordinary", "sequential"):
        torch.manual_seed(0)
        nets[name] = TCNNet(1, channels=(16, 16, 16, 16), holdings_aware=True)
    calls = {
        "ordinary": epoch(nets["ordinary"], ordinary),
        "sequential": epoch(nets["sequential"], sequential),
    }
    decided = {name: fn() for name, fn in calls.items()}  # also a warm-up epoch
    steps = {"ordinary": len(ordinary), "sequential": len(sequential)}
    timed = paired_rounds(calls, rounds=rounds, warmup=2)
    rows = []
    for name in calls:
        ms = timed.median_ms(name)
        ratio, per_window = "1", "1"
        summary = timed.ratio("sequential", "ordinary")
        if name != "ordinary" and summary is not None:
            ratio = str(summary)
            scale = decided["ordinary"] / decided[name]  # per-round ratios, per window
            per_window = str(
                RatioSummary(
                    summary.median * scale, summary.low * scale, summary.high * scale, rounds
                )
            )
        rows.append(
            f"| {name} | {timed.cell(name)} | {ratio} | {steps[name]} | {decided[name]} | "
            f"{ms / decided[name]:.3g} | {per_window} |"
        )
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_sequential', argv)}`",
            f"Machine: {machine()}; load average at the end {load} (1, 5, 15 min); "
            f"{rounds} paired rounds after 3 warm-up epochs each.",
            f"Data: {len(train)} training windows ({returns.index[0].date()} to "
            f"{returns.index[-1].date()}), 20 assets, lookback 60.",
            "",
            "| mode | ms per epoch (median) | time / ordinary: median (range) | "
            "optimizer steps per epoch | windows decided per epoch | ms per window | "
            "time per window / ordinary's: median (range) |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
