"""A suite killed after its first fold resumes from its cache, as if never interrupted."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

CONFIG = """
[data]
dataset = "factor_etfs"
start = "2016-01-01"

[windows]
lookback = 20
horizon = 5

[split]
scheme = "walk_forward"
test_size = "Y"
initial_train = "2019-01-01"
val_size = 0.2

[backtest]
costs_bps = 10
rebalance = "M"

[training]
epochs = 3
batch_size = 64
seeds = 2

[[networks]]
name = "dense"
type = "dense"
hidden_size = 8

[output]
path = "{path}"
cache = {cache}
"""

ROOT = Path(__file__).resolve().parents[2]


def command(config: Path) -> list[str]:
    return [sys.executable, "-m", "deepalloc", "run", str(config), "--no-progress"]


def write(tmp_path: Path, name: str, cache: bool) -> Path:
    config = tmp_path / f"{name}.toml"
    text = CONFIG.format(path=name, cache=str(cache).lower())
    config.write_text(text)
    return config


def test_a_killed_run_resumes_with_identical_tables(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    config = write(tmp_path, "resumed", cache=True)
    cache = tmp_path / "resumed" / "cache"
    proc = subprocess.Popen(
        command(config), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 300
    while not (cache.exists() and any(cache.glob("fold-000-*.pt"))):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the first fold never finished"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # a kill, no chance to clean up
    proc.wait()
    finished = {p.name: p.stat().st_mtime_ns for p in cache.glob("fold-*.pt")}
    assert finished and len(finished) < 4  # killed part way: some folds are left to run
    assert not (tmp_path / "resumed" / "metrics.csv").exists()

    subprocess.run(command(config), cwd=tmp_path, env=env, check=True, capture_output=True)
    straight = write(tmp_path, "straight", cache=False)
    subprocess.run(command(straight), cwd=tmp_path, env=env, check=True, capture_output=True)
    resumed = pd.read_csv(tmp_path / "resumed" / "metrics.csv", index_col=0)
    uninterrupted = pd.read_csv(tmp_path / "straight" / "metrics.csv", index_col=0)
    pd.testing.assert_frame_equal(resumed, uninterrupted, check_exact=True)
    for name, stamp in finished.items():  # the folds finished before the kill were reused
        assert (cache / name).stat().st_mtime_ns == stamp
