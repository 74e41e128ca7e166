"""Public import path of :mod:`deepalloc.evaluation` (benchmark suites); the code lives there."""

from deepalloc.evaluation import *  # noqa: F403
from deepalloc.evaluation import __all__ as __all__
