"""Public import path of :mod:`deepalloc.reporting.report` (report folders); the code lives there."""

from deepalloc.reporting.report import *  # noqa: F403
from deepalloc.reporting.report import __all__ as __all__
