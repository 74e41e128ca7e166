"""deepalloc: differentiable portfolio allocation.

Importing the package is light: cvxpy and matplotlib are loaded only when a convex
allocator or a plot is used. Subpackages are imported explicitly, for example
``from deepalloc.data import make_windows``.
"""

from deepalloc._version import __version__

__all__ = ["__version__"]
