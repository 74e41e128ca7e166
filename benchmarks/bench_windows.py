"""Time and peak memory of ``make_windows``, against an equal materialised output and
against DeepDow's ``raw_to_Xy``.

20 years x 500 assets (5,040 dates of prices), horizon 20, lookbacks 60 and 252. Three
ways to get the same samples:

- ``make_windows``: deepalloc (returns, then ``x`` and ``y`` as ``unfold`` views of one
  float32 tensor), plus one batch of 32 indexed out of it;
- the same output materialised: ``make_windows`` followed by contiguous copies of ``x``
  and ``y`` (float32 tensors of the same shapes), which is what any layout that stores
  every window needs at least;
- DeepDow 0.2.3's ``raw_to_Xy`` on the same prices (when deepdow is installed:
  ``pip install --no-deps deepdow==0.2.3``).

Peak memory: the increase of the peak resident set caused by the call alone, in a fresh
process with the libraries imported and the prices built before the measurement. Time:
paired rounds of the three in this process.

Run: python -m benchmarks.bench_windows [--quick] [--lookbacks 60,252] [--output FILE]
"""

from __future__ import annotations

import argparse
import importlib.util

from benchmarks.harness import command_line, emit, fmt_ms, machine, paired_rounds, peak_increase_mb

SETUP = """
import numpy as np, pandas as pd, torch
import deepalloc.data
{deepdow_import}
rng = np.random.default_rng(0)
index = pd.bdate_range('2000-01-03', periods=5040)
prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.01, (5040, 500)), 0)), index=index,
                      columns=[f'a{{i}}' for i in range(500)])
"""
WORK = {
    "make_windows": """
from deepalloc.data import make_windows, prices_to_returns
w = make_windows(prices_to_returns(prices), lookback={lookback}, horizon=20)
batch = (w.x[:32].clone(), w.y[:32].clone())
""",
    "materialised": """
from deepalloc.data import make_windows, prices_to_returns
w = make_windows(prices_to_returns(prices), lookback={lookback}, horizon=20)
x, y = w.x.contiguous(), w.y.contiguous()
""",
    "raw_to_Xy": """
from deepdow.utils import raw_to_Xy
raw = pd.concat({{'close': prices}}, axis=1).swaplevel(axis=1).sort_index(axis=1)
X, timestamps, y, asset_names, indicators = raw_to_Xy(raw, lookback={lookback}, horizon=20,
                                                       use_log=False)
""",
}


def measure(lookback: int, with_deepdow: bool, rounds: int) -> str:
    names = [n for n in WORK if with_deepdow or n != "raw_to_Xy"]
    setup = SETUP.format(deepdow_import="import deepdow.utils" if with_deepdow else "")
    codes = {name: WORK[name].format(lookback=lookback) for name in names}
    peak = {name: peak_increase_mb(setup, codes[name]) for name in names}
    ns: dict[str, object] = {}
    exec(setup, ns)

    def runner(code: str):
        def call() -> None:
            scope = dict(ns)
            exec(code, scope)  # the scope, and with it the output, is dropped after

        return call

    timed = paired_rounds({name: runner(codes[name]) for name in names}, rounds=rounds, warmup=1)
    mw, mat = peak["make_windows"], peak["materialised"]
    cells = [
        str(lookback),
        f"{mw:,.0f}",
        f"{mat:,.0f}",
        f"{peak['raw_to_Xy']:,.0f}" if with_deepdow else "—",
        f"{mat / mw:.0f}x",
        f"{peak['raw_to_Xy'] / mw:,.0f}x" if with_deepdow else "—",
        f"{peak['raw_to_Xy'] / mat:.1f}x" if with_deepdow else "—",
        fmt_ms(timed.median_ms("make_windows")),
        fmt_ms(timed.median_ms("materialised")),
        timed.cell("raw_to_Xy") if with_deepdow else "—",
        timed.ratio_cell("raw_to_Xy", "make_windows") if with_deepdow else "—",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="lookback 60 only, 2 rounds")
    parser.add_argument("--lookbacks", default="60,252")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    lookbacks = [60] if args.quick else [int(v) for v in args.lookbacks.split(",")]
    rounds = args.rounds or (2 if args.quick else 5)
    with_deepdow = importlib.util.find_spec("deepdow") is not None
    rows = []
    for lookback in lookbacks:
        rows.append(measure(lookback, with_deepdow, rounds))
        print(rows[-1], flush=True)
    text = "\n".join(
        [
            f"Command: `{command_line('benchmarks.bench_windows', argv)}`",
            f"Machine: {machine()}; {rounds} paired rounds after 1 warm-up call each."
            + ("" if with_deepdow else " deepdow not installed: its columns are empty."),
            "",
            "| lookback | make_windows peak MiB | materialised copy peak MiB | raw_to_Xy peak "
            "MiB | copy / make_windows | raw_to_Xy / make_windows | raw_to_Xy / copy | "
            "make_windows ms | copy ms | raw_to_Xy ms | raw_to_Xy / make_windows time |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    emit("\n" + text, args.output)
    return text


if __name__ == "__main__":
    main()
