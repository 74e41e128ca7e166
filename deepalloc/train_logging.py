"""Public import path of :mod:`deepalloc.training.loggers` (training loggers); the code lives there."""

from deepalloc.training.loggers import *  # noqa: F403
from deepalloc.training.loggers import __all__ as __all__
