"""Public import path of :mod:`deepalloc.analysis.backtest` (backtests of weight sequences); the code lives there."""

from deepalloc.analysis.backtest import *  # noqa: F403
from deepalloc.analysis.backtest import __all__ as __all__
