"""``deepalloc demo``, ``run`` and ``backtest`` as a user calls them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepalloc.cli import main
from deepalloc.config import SUITE_SCHEMA
from deepalloc.datasets import load_factor_etfs
from tests.cli.conftest import assert_one_error_line, run_command

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "config.toml"


# ------------------------------------------------------------------------------ run


@pytest.mark.parametrize(
    ("replace", "append", "where"),
    [
        ({"[backtest]": "[backtst]"}, "", "[backtst]: unknown section (did you mean 'backtest'?)"),
        ({"[backtest]": "[backtests]"}, "", "[backtests]: unknown section (did you mean"),
        ({"[training]": "[trainig]"}, "", "[trainig]: unknown section (did you mean 'training'?)"),
        ({"[[networks]]": "[[network]]"}, "", "[network]: unknown section (did you mean"),
        ({}, "\n[extra]\nnote = 1\n", "[extra]: unknown section; expected sections [data]"),
        ({"lookback = 60": "lookbak = 60"}, "", "[windows].lookbak: unknown key"),
        ({'start = "2019-01-01"': 'start = "yesterday"'}, "", "[data].start: expected a date"),
        ({"costs_bps = 10": "costs_bps = -10"}, "", "[backtest].costs_bps: expected a non-negat"),
        ({"costs_bps = 10": "costs_bps = nan"}, "", "[backtest].costs_bps: expected a non-negat"),
        ({'"M"': '"monthly"'}, "", "[backtest].rebalance: expected a pandas period frequency"),
        ({"max_weight = 0.3": "max_weight = 0.1"}, "", "[[networks]][1].max_weight: expected max"),
        ({'type = "inverse_volatility"': 'name = "lstm_softmax"\ntype = "inverse_volatility"'},
         "", "[[baselines]][0].name: expected a name no other strategy has"),
        ({"lookback = 60": "lookback = 2000"}, "", "[windows].lookback: expected lookback + gap"),
        ({'"2021-01-01"': '"2030-01-01"'}, "", "[split].initial_train: expected a date up to"),
        ({"val_size = 0.2": "val = 0.2"}, "", "[split].val: not a setting of scheme"),
        ({'path = "prices.csv"': 'path = "nothing.csv"'}, "", "[data].path: expected an existing"),
        ({'path = "prices.csv"': 'path = "."'}, "", "[data].path: expected a file, got '.'"),
        ({"[data]": "[data"}, "", ": expected valid TOML, got"),
    ],
)  # fmt: skip
def test_config_mistakes_stop_before_training_with_one_line(
    suite_file, capsys, replace, append, where
):
    path = suite_file(replace, append)
    assert main(["run", str(path), "--no-progress"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was loaded into a suite, let alone trained
    assert_one_error_line(captured.err, str(path), where)


def test_config_mistake_from_the_shell(suite_file):
    path = suite_file({"[[networks]]": "[[network]]"})
    proc = run_command("run", str(path))
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, f"{path} [network]: unknown section (did you mean")


def test_run_check_trains_nothing(suite_file, capsys):
    path = suite_file()
    assert main(["run", str(path), "--check", "--output", str(path.parent / "rep")]) == 0
    out = capsys.readouterr().out
    assert "2 fold(s)" in out and "lstm_softmax, conv_markowitz, inverse_volatility" in out
    assert out.strip().endswith("valid; nothing trained (--check)")
    assert not (path.parent / "rep").exists()


def test_run_output_under_a_file_is_an_argument_error(suite_file, capsys):
    path = suite_file()
    assert main(["run", str(path), "--output", str(path / "rep")]) == 2
    assert_one_error_line(capsys.readouterr().err, "argument --output: expected a folder")


def test_example_config_is_valid_and_documented(capsys):
    assert main(["run", str(EXAMPLE), "--check", "--output", "unused"]) == 0
    assert "valid; nothing trained" in capsys.readouterr().out
    lines = EXAMPLE.read_text().splitlines()
    headers = {}
    for i, line in enumerate(lines):
        match = re.match(r"^\[\[?(\w+)\]\]?", line)
        if match and match[1] not in headers:
            headers[match[1]] = i
    assert set(headers) == {s.name for s in SUITE_SCHEMA}  # every section is shown
    for name, i in headers.items():  # the first table of each section has a comment above it
        assert lines[i - 1].startswith("#"), f"[{name}] has no comment line above it"


def test_run_command_writes_report(suite_file, capsys):
    path = suite_file()
    assert main(["run", str(path), "--output", str(path.parent / "rep"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "equal_weight" in out and "report:" in out
    assert (path.parent / "rep" / "index.md").exists()


def test_demo_quick_from_the_command_line(tmp_path):
    proc = run_command("demo", "--quick", "--no-progress", "--output", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    assert "lstm_softmax" in proc.stdout and "conv_markowitz" in proc.stdout
    assert (tmp_path / "demo" / "index.md").exists()
    for name in ("conv_markowitz_seed0", "conv_markowitz_seed1", "conv_markowitz_ensemble"):
        assert (tmp_path / "demo" / "weights" / f"{name}.csv").exists()
    lines = proc.stdout.splitlines()
    # the verdicts come first, one per strategy (ensembles, not single seeds), then spreads
    assert lines[1].startswith("lstm_softmax:ensemble vs equal_weight: Sharpe ")
    assert any(line.startswith("conv_markowitz:ensemble vs equal_weight:") for line in lines)
    assert not any(line.startswith("lstm_softmax:seed0 vs") for line in lines)
    assert any(line.startswith("lstm_softmax: Sharpe across 2 seeds") for line in lines)


# ------------------------------------------------------------------------------ backtest


@pytest.fixture
def files(tmp_path):
    """prices.csv (300 dates of 5 ETFs) and weights.csv (equal weight every 20 dates)."""
    prices = load_factor_etfs().iloc[:300]
    prices.to_csv(tmp_path / "prices.csv")
    weights = pd.DataFrame(0.2, index=prices.index[20:250:20], columns=prices.columns)
    weights.to_csv(tmp_path / "weights.csv")
    return tmp_path, prices, weights


def _summary(out: str) -> pd.Series:
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    return pd.Series({name: float(value) for name, value in rows})


def test_backtest_command(files, capsys):
    folder, _, _ = files
    argv = ["backtest", str(folder / "weights.csv"), str(folder / "prices.csv")]
    assert main([*argv, "--costs-bps", "10"]) == 0
    summary = _summary(capsys.readouterr().out)
    assert summary["n_trades"] == 12
    # the first trade buys from cash: turnover 1, so costs 10 bps on it, then 5 bps per
    # unit of turnover on later trades
    assert summary["total_costs"] > 1e-3


def _edit(folder, prices, weights, name):
    """Write the broken input ``name``; return the argv tail and the expected message."""
    w = str(folder / "weights.csv")
    p = str(folder / "prices.csv")
    if name == "negative costs":
        return [w, p, "--costs-bps", "-5"], ["argument --costs-bps: expected finite non-negat"]
    if name == "nan costs":
        return [w, p, "--costs-bps", "nan"], ["argument --costs-bps"]
    if name == "monthly":
        return [w, p, "--rebalance", "monthly"], ["argument --rebalance:", "did you mean 'M'?"]
    if name == "negative lag":
        return [w, p, "--lag", "-1"], ["argument --lag: expected a non-negative integer"]
    if name == "empty prices":
        (folder / "empty.csv").write_text("")
        return [w, str(folder / "empty.csv")], [f"prices {folder / 'empty.csv'}: expected a date"]
    if name == "empty weights":
        (folder / "empty.csv").write_text("date,A\n")
        return [str(folder / "empty.csv"), p], ["weights", "empty.csv: expected a date column"]
    if name == "folder":
        return [w, str(folder)], ["argument prices: expected a file", "which is a folder"]
    if name == "missing":
        return [str(folder / "nope.csv"), p], ["argument weights: expected an existing file"]
    if name == "unknown assets":
        weights.assign(XYZ=0.0).to_csv(folder / "weights.csv")
        return [w, p], [f"weights {w}: expected assets present in the returns", "'XYZ'"]
    if name == "nan weights":
        weights.iloc[2, 1] = np.nan
        weights.to_csv(folder / "weights.csv")
        return [w, p], [f"weights {w}: expected no NaN, got NaN for 'QUAL'"]
    if name == "weekend decision":
        weights.index = weights.index.where(
            weights.index != weights.index[3], pd.Timestamp("2014-03-01")
        )
        weights.sort_index().to_csv(folder / "weights.csv")
        return [w, p], [f"weights {w}: expected decision dates that are dates of prices {p}"]
    if name == "text dates":
        weights.reset_index(drop=True).to_csv(folder / "weights.csv")
        return [w, p], [f"weights {w}: expected dates in the first column"]
    if name == "bad prices":
        prices.iloc[5, 0] = -1.0
        prices.to_csv(folder / "prices.csv")
        return [w, p], ["prices", "expected strictly positive prices"]
    if name == "late lag":
        return [w, p, "--lag", "400"], [
            "argument --lag: expected the first trade by the last return date"
        ]
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name",
    [
        "negative costs",
        "nan costs",
        "monthly",
        "negative lag",
        "empty prices",
        "empty weights",
        "folder",
        "missing",
        "unknown assets",
        "nan weights",
        "weekend decision",
        "text dates",
        "bad prices",
        "late lag",
    ],
)
def test_backtest_input_errors_are_one_line(files, capsys, name):
    argv, pieces = _edit(*files, name)
    assert main(["backtest", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, *pieces)


def test_backtest_input_error_from_the_shell(files):
    folder, _, _ = files
    proc = run_command(
        "backtest", str(folder / "weights.csv"), str(folder / "prices.csv"), "--rebalance", "ME"
    )
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr, "argument --rebalance", "did you mean 'M'?")


def test_leverage_is_an_argument(files, capsys):
    folder, prices, _ = files
    doubled = pd.DataFrame(0.4, index=prices.index[20:250:20], columns=prices.columns)
    doubled.to_csv(folder / "doubled.csv")
    assert main(["backtest", str(folder / "doubled.csv"), str(folder / "prices.csv")]) == 2
    assert "gross exposure" in capsys.readouterr().err
    args = ["backtest", str(folder / "doubled.csv"), str(folder / "prices.csv"), "--leverage", "2"]
    assert main(args) == 0
    assert main([*args[:-1], "0.5"]) == 2
    assert "argument --leverage" in capsys.readouterr().err


def test_weights_dated_on_the_first_price_date(files, capsys):
    folder, prices, _ = files
    weights = pd.DataFrame(0.2, index=prices.index[:1], columns=prices.columns)
    weights.to_csv(folder / "first.csv")
    assert main(["backtest", str(folder / "first.csv"), str(folder / "prices.csv")]) == 0
    summary = _summary(capsys.readouterr().out)
    # bought at the first close and held: wealth is sum_i w_i P_t,i / P_0,i
    wealth = (prices / prices.iloc[0]).to_numpy() @ weights.iloc[0].to_numpy()
    daily = wealth[1:] / wealth[:-1] - 1.0
    assert summary["n_trades"] == 1
    assert summary["best_period"] == pytest.approx(daily.max(), abs=6e-5)  # printed to 4 places
    assert summary["worst_period"] == pytest.approx(daily.min(), abs=6e-5)


@pytest.mark.skipif(importlib.util.find_spec("pyarrow") is not None, reason="pyarrow installed")
def test_parquet_without_the_extra_is_one_line(files, capsys):
    folder, _, _ = files
    (folder / "prices.parquet").write_bytes(b"PAR1")
    assert main(["backtest", str(folder / "weights.csv"), str(folder / "prices.parquet")]) == 2
    assert_one_error_line(capsys.readouterr().err, "prices.parquet", "the 'parquet' extra")
