"""Public import path of :mod:`deepalloc.analysis.metrics` (performance metrics of return series); the code lives there."""

from deepalloc.analysis.metrics import *  # noqa: F403
from deepalloc.analysis.metrics import __all__ as __all__
