"""Wall time of a 16-trial nested search on a local Ray instance, by CPUs and concurrency.

One outer fold (test year 2022) on the bundled S&P 500 data (20 stocks, daily, from
2015; about 1,500 training samples): 16 trials of an LSTM allocator (learning rate,
hidden size, lookback, weight cap), 4 epochs each under ASHA, then the chosen
configuration retrained and tested against equal weight. Each timed
call is a whole ``tune_suite``: a fresh local Ray instance started and stopped, the
search, the retrain and the backtest. Contenders, in paired rounds:

- 1 CPU, one trial at a time;
- 2 CPUs, two trials at a time (``max_concurrent_trials = 2``);
- 2 CPUs, one trial at a time (the default: ASHA's choices reproducible).

Run: python -m benchmarks.bench_tune [--quick] [--rounds N] [--trials N] [--output FILE]
"""

from __future__ import annotations

import argparse
import functools
import tempfile

import pandas as pd

from benchmarks.harness import command_line, emit, fmt_ratio, machine, paired_rounds
from deepalloc.data import prices_to_returns, walk_forward_folds
from deepalloc.datasets import load_sp500
from deepalloc.evaluation.cluster import ray_session
from deepalloc.tune import Cluster, Search, tune_suite
from examples import tuning

LAST: dict[str, pd.DataFrame] = {}


def search(num_cpus: int, concurrent: int, trials: int, epochs: int) -> None:
    """One whole search (its trials kept in ``LAST``)."""
    returns = prices_to_returns(load_sp500()).loc["2015-01-01":]
    with tempfile.TemporaryDirectory(prefix="da-b-", dir="/tmp") as scratch:
        result = tune_suite(
            returns,
            functools.partial(tuning.lstm, epochs=epochs),
            tuning.SPACE,
            functools.partial(
                walk_forward_folds, test_size="Y", initial_train="2022-01-01", val_size=0.2
            ),
            lookback=40,
            horizon=20,
            storage=f"{scratch}/tune",
            search=Search(num_samples=trials, max_concurrent_trials=concurrent),
            cluster=Cluster(num_cpus=num_cpus, temp_dir=f"{scratch}/ray"),
        )
    LAST[f"{num_cpus}-{concurrent}"] = result.trials


def startup(num_cpus: int) -> None:
    """Start and stop a local Ray instance, and nothing else."""
    with tempfile.TemporaryDirectory(prefix="da-b-", dir="/tmp") as scratch:
        with ray_session(Cluster(num_cpus=num_cpus, temp_dir=f"{scratch}/ray")):
            pass


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 8 trials")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of a trial")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--trials", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.quick else 2)
    trials = args.trials or (8 if args.quick else 16)
    contenders = {
        "1 CPU, 1 at a time": (1, 1),
        "2 CPUs, 2 at a time": (2, 2),
        "2 CPUs, 1 at a time": (2, 1),
    }
    timed = paired_rounds(
        {
            **{
                name: functools.partial(search, cpus, concurrent, trials, args.epochs)
                for name, (cpus, concurrent) in contenders.items()
            },
            "start and stop only": functools.partial(startup, 2),
        },
        rounds=rounds,
        warmup=1,
    )
    one, two = timed.times["1 CPU, 1 at a time"], timed.times["2 CPUs, 2 at a time"]
    speedups = [a / b for a, b in zip(one, two, strict=False)]
    lines = [
        f"Command: `{command_line('benchmarks.bench_tune', argv)}`",
        f"Machine: {machine()}; {rounds} paired round(s) after one warm-up call each; "
        f"{trials} trials of {args.epochs} epochs, ASHA (grace 1, reduction 3), one fold.",
        "",
        "| local Ray instance | median s (whole search) | epochs trained | trials stopped early |",
        "|---|---|---|---|",
    ]
    for name, (cpus, concurrent) in contenders.items():
        table = LAST.get(f"{cpus}-{concurrent}")
        epochs = "" if table is None else int(table["epochs"].sum())
        stopped = "" if table is None else int((table["epochs"] < args.epochs).sum())
        seconds = pd.Series(timed.times.get(name, [])).median() / 1000
        lines.append(f"| {name} | {seconds:.1f} | {epochs} | {stopped} |")
    ray_only = pd.Series(timed.times.get("start and stop only", [])).median() / 1000
    lines += [
        f"| start and stop the instance only (2 CPUs), no search | {ray_only:.1f} | | |",
        "",
        f"Speed-up of 2 CPUs (2 at a time) over 1 CPU: {fmt_ratio(pd.Series(speedups).median())}"
        f" (per-round {', '.join(fmt_ratio(s) for s in speedups)}).",
    ]
    text = "\n".join(lines)
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
