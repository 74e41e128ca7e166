"""Importing the report modules does not import matplotlib; writing a figure does."""

import subprocess
import sys

CODE = """
import sys
import deepalloc.report, deepalloc.visualize
from deepalloc.reporting import content, document, folds, html, palette, verdicts
print("matplotlib" in sys.modules)
palette.asset_colors(3)
print("matplotlib" in sys.modules)
"""


def test_report_import_is_light():
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "True"]
