"""The ``deepalloc`` command's edges: --version, argument errors, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from deepalloc import __version__
from deepalloc.cli import main
from tests.cli.conftest import assert_one_error_line, run_command


def test_version():
    proc = run_command("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"deepalloc {__version__}\n"


@pytest.mark.parametrize(
    ("argv", "pieces"),
    [
        ([], ["the following arguments are required", "deepalloc --help"]),
        (["train"], ["invalid choice: 'train'"]),
        (["demo", "--fast"], ["unrecognized arguments: --fast"]),
        (["run"], ["the following arguments are required: config", "deepalloc run --help"]),
    ],
)
def test_argument_errors_are_one_line(capsys, argv, pieces):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_error_line(captured.err, *pieces)


def test_help_exits_zero(capsys):
    assert main(["backtest", "--help"]) == 0
    assert "--costs-bps" in capsys.readouterr().out


def test_ctrl_c_exits_130_with_one_line(suite_file):
    path = suite_file({"epochs = 1": "epochs = 1000\npatience = 1000"})
    with subprocess.Popen(
        [sys.executable, "-m", "deepalloc", "run", str(path), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test runner's worker (pytest-xdist) may ignore SIGINT,
        # and an ignored signal stays ignored in its children
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    ) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # printed once the config is checked, before training
        assert first.startswith("data: "), first + proc.communicate(timeout=60)[1]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    # 130 from deepalloc, or death by SIGINT after its message (the shell reports 130 too)
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "Traceback" not in err, err
    assert err.strip().splitlines() == ["deepalloc: interrupted"]
