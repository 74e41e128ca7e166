"""Benchmark suites: networks and baselines on the same purged splits, same costs.

``strategies`` defines what is compared, ``folds`` runs one fold, ``parallel`` spreads
folds over processes or a Ray cluster, ``cache`` makes suites resumable, ``results``
holds what a suite returns, ``suites`` ties them together in :func:`run_suite`.
"""

from deepalloc.evaluation.results import SuiteResult
from deepalloc.evaluation.strategies import (
    EQUAL_WEIGHT,
    BaselineStrategy,
    NetworkStrategy,
    SequentialTraining,
    Strategy,
)
from deepalloc.evaluation.suites import asset_returns, run_suite

__all__ = [
    "EQUAL_WEIGHT",
    "BaselineStrategy",
    "NetworkStrategy",
    "SequentialTraining",
    "Strategy",
    "SuiteResult",
    "asset_returns",
    "run_suite",
]
