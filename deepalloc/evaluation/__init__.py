"""Benchmark suites: networks and baselines on the same purged splits, same costs."""

from deepalloc.evaluation.suites import (
    EQUAL_WEIGHT,
    BaselineStrategy,
    NetworkStrategy,
    Strategy,
    SuiteResult,
    asset_returns,
    run_suite,
)

__all__ = [
    "EQUAL_WEIGHT",
    "BaselineStrategy",
    "NetworkStrategy",
    "Strategy",
    "SuiteResult",
    "asset_returns",
    "run_suite",
]
