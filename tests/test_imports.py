"""Importing deepalloc stays light: cvxpy, matplotlib and numba load only when used."""

import subprocess
import sys

CODE = """
import sys
import deepalloc, deepalloc.data, deepalloc.allocators, deepalloc.networks, deepalloc.train
import deepalloc.evaluate, deepalloc.backtest, deepalloc.baselines, deepalloc.losses, deepalloc.metrics
heavy = [m for m in ("cvxpy", "cvxpylayers", "matplotlib", "numba") if m in sys.modules]
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


def test_cvxpy_contract_covers_every_module_but_the_conic_ones():
    # setup.cfg's forbidden contract lists packages whole and the allocators' modules one
    # by one, so a new allocator module must be added there; this keeps it from being
    # forgotten, and keeps the conic modules out of it
    import configparser
    import pathlib

    import deepalloc

    root = pathlib.Path(deepalloc.__file__).parent
    config = configparser.ConfigParser()
    config.read(root.parent / "setup.cfg")
    listed = config["importlinter:contract:cvxpy-only-in-convex"]["source_modules"].split()
    conic = {
        "deepalloc.allocators.convex",
        "deepalloc.allocators.convex_problems",
        "deepalloc.allocators.robust",
    }
    for path in root.rglob("*.py"):
        parts = ("deepalloc", *path.relative_to(root).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name in conic or name in ("deepalloc", "deepalloc.__main__", "deepalloc._version"):
            continue
        covered = any(
            name == entry or (name.startswith(entry + ".") and entry != "deepalloc.allocators")
            for entry in listed
        )
        assert covered != (name == "deepalloc.allocators"), name
