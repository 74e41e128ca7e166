"""The ``deepalloc`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    from deepalloc.data import make_windows, prices_to_returns, walk_forward_folds
    from deepalloc.datasets import load_sp500

    prices = load_sp500()
    returns = prices_to_returns(prices)
    windows = make_windows(returns, lookback=60, horizon=20)
    folds = walk_forward_folds(windows, test_size="Y", initial_train="2015-01-01", val_size=0.1)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    table = pd.DataFrame([f.describe(windows.timestamps) for f in folds])
    table.to_csv(out / "folds.csv", index=False)
    print(f"S&P 500 data: {prices.shape[0]} dates x {prices.shape[1]} assets")
    print(f"windows: x {tuple(windows.x.shape)}, y {tuple(windows.y.shape)}")  # type: ignore[union-attr]
    print(table.to_string(index=False))
    print(f"wrote {out / 'folds.csv'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``deepalloc`` command."""
    parser = argparse.ArgumentParser(prog="deepalloc", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the main job on the bundled S&P 500 data")
    demo.add_argument("--output", default="deepalloc-report", help="report folder")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``deepalloc`` command; returns the exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    return int(args.func(args))
