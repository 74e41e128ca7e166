"""Public import path of :mod:`deepalloc.training` (the training loop); the code lives there."""

from deepalloc.training import *  # noqa: F403
from deepalloc.training import __all__ as __all__
