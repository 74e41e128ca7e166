"""deepalloc: differentiable portfolio allocation.

Importing the package is light: torch, cvxpy and matplotlib are loaded only when a
network, a convex allocator or a plot is used. Subpackages are imported explicitly, for
example ``from deepalloc.data import make_windows``; ``deepalloc.save`` and
``deepalloc.load`` (model files, :mod:`deepalloc.models`) load on first use.
"""

from typing import TYPE_CHECKING, Any

from deepalloc._version import __version__

if TYPE_CHECKING:
    from deepalloc.models import load, save

__all__ = ["__version__", "load", "save"]


def __getattr__(name: str) -> Any:
    if name in ("save", "load"):
        from deepalloc import models

        return getattr(models, name)
    raise AttributeError(f"module 'deepalloc' has no attribute {name!r}")
