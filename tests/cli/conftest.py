"""A suite configuration file as a user writes it, and ways to call the command."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from deepalloc.datasets import load_factor_etfs

SUITE_TOML = """\
[data]
path = "prices.csv"
start = "2019-01-01"

[windows]
lookback = 60
horizon = 20

[split]
scheme = "walk_forward"
test_size = "Y"
initial_train = "2021-01-01"
train_size = 250
val_size = 0.2

[backtest]
costs_bps = 10
rebalance = "M"

[training]
epochs = 1
lr = 0.003

[[networks]]
name = "lstm_softmax"
type = "lstm"
hidden_size = 8

[[networks]]
name = "conv_markowitz"
type = "conv"
allocator = "markowitz"
max_weight = 0.3

[[baselines]]
type = "inverse_volatility"
"""


@pytest.fixture
def suite_file(tmp_path) -> Callable[..., Path]:
    """``suite_file(old=new, ..., append="")``: write ``suite.toml`` with those edits.

    Each edit replaces every occurrence of ``old`` in :data:`SUITE_TOML` (it must occur);
    the file sits next to ``prices.csv`` (5 factor ETFs, 2014-2022).
    """
    load_factor_etfs().to_csv(tmp_path / "prices.csv")

    def write(replace: dict[str, str] | None = None, append: str = "") -> Path:
        text = SUITE_TOML
        for old, new in (replace or {}).items():
            assert old in text, old
            text = text.replace(old, new)
        path = tmp_path / "suite.toml"
        path.write_text(text + append)
        return path

    return write


def run_command(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m deepalloc ARGS`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "deepalloc", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_error_line(stderr: str, *pieces: str) -> None:
    """stderr is one line ``deepalloc: error: ...`` holding every piece, and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("deepalloc: error: "), stderr
    for piece in pieces:
        assert piece in lines[0], (piece, lines[0])
