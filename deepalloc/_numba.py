"""Whether numba (the ``fast`` extra) is installed, without importing it.

The compiled kernels (:mod:`deepalloc.allocators.qp_kernels`,
:mod:`deepalloc.layers.pooling_kernels`) import numba; the modules that call them check
here first and otherwise run their torch (vectorised) code, with the same results.
"""

from __future__ import annotations

import importlib.util
from functools import cache

MISSING = "numba is not installed: pip install 'deepalloc[fast]'"


@cache
def available() -> bool:
    """Whether numba can be imported (checked once, without importing it)."""
    return importlib.util.find_spec("numba") is not None
