"""Out-of-sample quality of the temporal convolution network against the LSTM network.

Issue 17 asks whether ``TCNMarkowitzNet`` (much cheaper to train) decides as well as
``LSTMMarkowitzNet``. Both are trained by the same walk-forward suite
(:func:`deepalloc.evaluation.run_suite`: yearly test blocks, a purged validation block
at the end of each training window for early stopping, every fold retrained) with
several seeds, on two markets:

- ``synthetic``: :func:`deepalloc.data.synthetic_market` with a weak persistent drift
  per asset (``momentum``), something a network can learn;
- ``sp500``: the bundled S&P 500 prices (20 stocks), daily returns.

The table gives, per network, the annualised Sharpe ratio of the walk-forward test
returns (all test years joined, no costs) of each seed, their mean and standard
deviation (ddof 1), and equal weight on the same dates for reference. "No worse beyond
seed noise" reads: the difference of the means is within about two standard errors of
the seeds' spread.

Run: python -m benchmarks.bench_tcn_quality [--market synthetic|sp500|both] [--seeds 3]
[--epochs 8] [--quick] [--output FILE]
"""

from __future__ import annotations

import argparse
import functools
import os
import time

import pandas as pd
import torch

from benchmarks.harness import command_line, emit, machine, markdown_table
from deepalloc.data import make_windows, prices_to_returns, synthetic_market, walk_forward_folds
from deepalloc.datasets import load_sp500
from deepalloc.evaluation import NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import LSTMMarkowitzNet, TCNMarkowitzNet
from deepalloc.training import EarlyStopping

LOOKBACK, HORIZON, MAX_WEIGHT = 40, 20, 0.2


def lstm(n_channels: int, n_assets: int, lookback: int) -> LSTMMarkowitzNet:
    """The recurrent network of the training benchmark (bench_deepdow)."""
    return LSTMMarkowitzNet(
        n_channels, hidden_size=16, bidirectional=True, pool="attention", max_weight=MAX_WEIGHT
    )


def tcn(n_channels: int, n_assets: int, lookback: int) -> TCNMarkowitzNet:
    """The temporal convolution network with its defaults (four blocks of 16 channels)."""
    return TCNMarkowitzNet(n_channels, max_weight=MAX_WEIGHT)


def market(name: str, quick: bool) -> pd.DataFrame:
    """Daily simple returns (date x asset) of ``name``."""
    if name == "synthetic":
        days = 1000 if quick else 1800
        return synthetic_market(days, 20, seed=1, momentum=0.1)
    start = "2019-01-01" if quick else "2015-01-01"
    return prices_to_returns(load_sp500().loc[start:])


def run_market(
    name: str, seeds: int, epochs: int, quick: bool, leverage: float
) -> tuple[pd.DataFrame, str]:
    """Per network: each seed's test Sharpe ratio, their mean and std; and a note."""
    returns = market(name, quick)
    windows = make_windows(returns, lookback=LOOKBACK, horizon=HORIZON)
    fit_options = {
        "epochs": epochs,
        "optimizer": functools.partial(torch.optim.Adam, lr=3e-3),
        "early_stopping": EarlyStopping(patience=3),
        "batch_size": 64,
    }
    strategies = [
        NetworkStrategy("LSTMMarkowitzNet", lstm, SharpeLoss(), dict(fit_options)),
        NetworkStrategy("TCNMarkowitzNet", tcn, SharpeLoss(), dict(fit_options)),
    ]
    folds = walk_forward_folds(windows, test_size="Y", initial_train=0.6, val_size=0.2)
    started = time.perf_counter()
    result = run_suite(windows, strategies, folds, returns=returns, seeds=seeds, leverage=leverage)
    seconds = time.perf_counter() - started
    sharpe = result.table["sharpe_ratio"]
    rows = []
    for net, runs in result.seed_runs.items():
        values = sharpe.loc[runs]
        rows.append(
            {
                "market": name,
                "network": net,
                "Sharpe per seed": ", ".join(f"{v:.2f}" for v in values),
                "mean": values.mean(),
                "std": values.std(ddof=1) if len(values) > 1 else float("nan"),
                "ensemble": sharpe.get(f"{net}:ensemble", float("nan")),
                "equal weight": sharpe.loc["equal_weight"],
            }
        )
    first, last = result.folds.iloc[0], result.folds.iloc[-1]
    span = f"{pd.Timestamp(first['test_start']).date()} to {pd.Timestamp(last['test_end']).date()}"
    note = (
        f"{name}: {len(folds)} yearly walk-forward folds, test {span}, {len(windows)} "
        f"windows in all; suite took {seconds:.0f} s; largest gross exposure of the "
        f"networks' weights {max(w.abs().sum(axis=1).max() for w in result.weights.values()):.7f}"
    )
    return pd.DataFrame(rows), note


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--market", choices=["synthetic", "sp500", "both"], default="both")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--leverage",
        type=float,
        default=1.0,
        help="the backtest's gross exposure limit (1: long-only budget)",
    )
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    names = ["synthetic", "sp500"] if args.market == "both" else [args.market]
    load_before = "/".join(f"{v:.1f}" for v in os.getloadavg())
    tables, notes = [], []
    for name in names:
        table, note = run_market(name, args.seeds, args.epochs, args.quick, args.leverage)
        tables.append(table)
        notes.append(note)
        print(note, flush=True)
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_tcn_quality', argv)}`",
            f"Machine: {machine()}; load average (1/5/15 min) {load_before} at the start",
            f"Settings: lookback {LOOKBACK}, horizon {HORIZON}, cap {MAX_WEIGHT}, Sharpe loss, "
            f"Adam lr 3e-3, batch 64, at most {args.epochs} epochs with early stopping "
            f"(patience 3) on a purged validation block (last 20% of each training window), "
            f"{args.seeds} seeds; test Sharpe annualised, no costs; backtest leverage limit "
            f"{args.leverage:g}",
            "",
            *[f"- {note}" for note in notes],
            "",
            markdown_table(pd.concat(tables, ignore_index=True)),
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
