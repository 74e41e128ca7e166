"""The pandas layers import without torch (docs/design.rst: backtest, metrics and stats work without it)."""

import os
import subprocess
import sys
from pathlib import Path

import deepalloc

ROOT = str(Path(deepalloc.__file__).resolve().parents[1])

CODE = """
import sys
import deepalloc.backtest, deepalloc.metrics, deepalloc.stats
import deepalloc.analysis.backtest, deepalloc.analysis.metrics
from deepalloc.data import prices_to_returns, validate_frame
print(sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
from deepalloc.data import make_windows  # the torch parts of the data layer load on use
print("torch" in sys.modules)
"""


def test_backtest_and_metrics_import_without_torch():
    out = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT},
    ).stdout
    torch_modules, loaded_on_use = out.splitlines()
    assert torch_modules == "[]"
    assert loaded_on_use == "True"
