"""Importing deepalloc stays light: cvxpy and matplotlib load only when used."""

import subprocess
import sys

CODE = """
import sys
import deepalloc, deepalloc.data, deepalloc.allocators, deepalloc.networks, deepalloc.train
import deepalloc.evaluate, deepalloc.backtest, deepalloc.baselines, deepalloc.losses, deepalloc.metrics
heavy = [m for m in ("cvxpy", "cvxpylayers", "matplotlib") if m in sys.modules]
print(",".join(heavy))
from deepalloc.allocators import ConvexAllocator
print("cvxpy" in sys.modules)
"""


def test_import_is_light():
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout
    heavy, convex_loaded = out.splitlines()
    assert heavy == ""
    assert convex_loaded == "True"


def test_version_and_typing_marker():
    import importlib.resources

    import deepalloc

    assert deepalloc.__version__
    assert importlib.resources.files("deepalloc").joinpath("py.typed").is_file()
