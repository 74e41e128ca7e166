"""Public import path of :mod:`deepalloc.evaluation.tuning` (hyper-parameter search nested
inside the walk-forward, on Ray Tune); the code lives there."""

from deepalloc.evaluation.tuning import *  # noqa: F403
from deepalloc.evaluation.tuning import __all__ as __all__
