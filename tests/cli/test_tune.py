"""`deepalloc tune`, and `deepalloc run`/`tune` on an existing Ray cluster (a head
started here with `ray start --head --block`, joined by address, stopped after)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from deepalloc.cli import main
from deepalloc.config import load_suite

from .conftest import assert_one_error_line

SEARCH = """
[search]
network = "lstm_softmax"
num_samples = 3
lr = { loguniform = [1e-3, 1e-2] }
hidden_size = { choice = [4, 8] }
"""
ROOT = Path(__file__).resolve().parents[2]


def test_tune_needs_a_search_section(suite_file, capsys):
    path = suite_file()
    assert main(["tune", str(path)]) == 2
    assert_one_error_line(capsys.readouterr().err, str(path), "expected a [search] section")


def test_tune_check_prints_the_plan_and_trains_nothing(suite_file, capsys):
    path = suite_file(append=SEARCH)
    assert main(["tune", str(path), "--check"]) == 0
    out = capsys.readouterr().out
    assert "search: lstm_softmax over lr, hidden_size; 3 trials per fold" in out
    assert "on a local Ray instance (all CPUs)" in out
    assert "valid; nothing trained (--check)" in out
    assert not (path.parent / "deepalloc-report").exists()


@pytest.mark.parametrize(
    ("hidden", "append", "extra"),
    [
        ("ray.tune", "", "deepalloc[tune]"),
        ("optuna", 'algorithm = "tpe"\n', "deepalloc[optuna]"),
    ],
)
def test_a_missing_extra_is_named(suite_file, capsys, monkeypatch, hidden, append, extra):
    path = suite_file(append=SEARCH + append)
    monkeypatch.setitem(sys.modules, hidden, None)
    assert main(["tune", str(path)]) == 2
    assert_one_error_line(capsys.readouterr().err, f"pip install '{extra}'")


def test_run_on_ray_without_ray_names_the_extra(suite_file, capsys, monkeypatch):
    path = suite_file(append='[cluster]\nbackend = "ray"\n')
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["run", str(path)]) == 2
    assert_one_error_line(capsys.readouterr().err, "pip install 'deepalloc[ray]'")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def ray_head():
    """A Ray head with 2 CPUs, started as a user would (`ray start --head`) in its own
    short temporary folder; yields (address, logs folder). `--block` ties the head's
    processes to this one command, so stopping it (by its pid) stops exactly them;
    `ray stop` would stop every Ray process on the machine, other users' too."""
    pytest.importorskip("ray.tune")
    temp = tempfile.mkdtemp(prefix="da-head-", dir="/tmp")
    port, agent = _free_ports(2)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    ray = Path(sys.executable).with_name("ray")
    head = subprocess.Popen(
        [
            str(ray),
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            "--num-cpus=2",
            "--object-store-memory=300000000",
            f"--port={port}",
            f"--dashboard-agent-listen-port={agent}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = Path(temp) / "session_latest" / "logs"
    try:
        deadline = time.monotonic() + 120
        while not (logs / "raylet.out").exists() or not list(logs.glob("gcs_server*")):
            assert head.poll() is None, "ray start --head failed"
            assert time.monotonic() < deadline, "the Ray head did not start in time"
            time.sleep(0.5)
        time.sleep(2)
        yield f"127.0.0.1:{port}", logs
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def _join(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m deepalloc ARGS`` as a cluster user runs it: Ray's token authentication
    (on by default since Ray 2.5x) needs RAY_AUTH_MODE=token to join by address."""
    return subprocess.run(
        [sys.executable, "-m", "deepalloc", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "RAY_AUTH_MODE": "token"},
    )


def _drivers(logs: Path) -> set[str]:
    """The jobs whose drivers connected to the head (Ray logs one file per driver)."""
    return {p.name for p in logs.glob("python-core-driver-*")}


@pytest.mark.slow
def test_run_joins_an_existing_cluster(suite_file, ray_head):
    from deepalloc.evaluation import run_suite

    address, logs = ray_head
    path = suite_file(append=f'[cluster]\nbackend = "ray"\naddress = "{address}"\n')
    before = _drivers(logs)
    proc = _join("run", str(path), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert f"cluster: the Ray cluster at {address}, 2 CPU(s)" in proc.stdout
    assert len(_drivers(logs) - before) == 1  # the command's driver joined this head
    # the folds ran as Ray tasks and gave what a serial run gives
    suite = load_suite(path)
    serial = run_suite(
        suite.windows,
        suite.strategies,
        suite.folds,
        returns=suite.returns,
        costs_bps=suite.costs_bps,
        rebalance=suite.rebalance,
        lag=suite.lag,
        seed=suite.seed,
    )
    table = pd.read_csv(path.parent / "deepalloc-report" / "metrics.csv", index_col=0)
    # (the CSV round trip keeps 15+ digits; Ray and serial runs are bit-identical)
    pd.testing.assert_frame_equal(
        table, serial.table.astype(float), check_names=False, check_exact=False, rtol=1e-12
    )


@pytest.mark.slow
def test_tune_joins_an_existing_cluster(suite_file, ray_head):
    address, logs = ray_head
    path = suite_file(
        {"epochs = 1": "epochs = 2"}, append=SEARCH + f'\n[cluster]\naddress = "{address}"\n'
    )
    before = _drivers(logs)
    proc = _join("tune", str(path))
    assert proc.returncode == 0, proc.stderr
    assert f"on the Ray cluster at {address}" in proc.stdout
    assert len(_drivers(logs) - before) == 1
    report = path.parent / "deepalloc-report"
    trials = pd.read_csv(report / "trials.csv", keep_default_na=False)
    assert list(trials.groupby("fold").size()) == [3, 3] and (trials["error"] == "").all()
    chosen = pd.read_csv(report / "chosen.csv")
    for _, row in chosen.iterrows():
        scores = trials[trials["fold"] == row["fold"]]["score"]
        assert row["score"] == scores.min()
    assert "lstm_softmax_tuned" in pd.read_csv(report / "metrics.csv", index_col=0).index
    assert (report / "tune" / "fold-000").is_dir()
    index = (report / "index.md").read_text()
    assert "## Search" in index and "The deflated Sharpe ratio counts 3 configurations" in index
