"""Public import path of :mod:`deepalloc.reporting.visualize` (figures); the code lives there."""

from deepalloc.reporting.visualize import *  # noqa: F403
from deepalloc.reporting.visualize import __all__ as __all__
