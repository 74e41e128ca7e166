"""Public import path of :mod:`deepalloc.analysis.stats` (statistics of return series:
Sharpe standard errors, PSR/DSR, difference tests, bootstrap); the code lives there."""

from deepalloc.analysis.stats import *  # noqa: F403
from deepalloc.analysis.stats import __all__ as __all__
