"""Allocation layers: scores or estimated parameters -> weights (batch, asset).

Mean-variance allocators take expected returns before the covariance square root,
``allocator(mu, cov_sqrt, ...)`` (:ref:`conventions-arguments`). The convex
(cvxpylayers) allocator and the distributionally robust layers are imported lazily, so
``import deepalloc.allocators`` does not load cvxpy.
"""

from typing import TYPE_CHECKING, Any

from deepalloc.allocators.analytical import AnalyticalMarkowitz
from deepalloc.allocators.markowitz import MarkowitzAllocator, MinVarianceAllocator
from deepalloc.allocators.qp import QPSettings, solve_box_qp
from deepalloc.allocators.risk_budgeting import RiskBudgetingAllocator
from deepalloc.allocators.simplex import (
    EqualWeightAllocator,
    SoftmaxAllocator,
    SparsemaxAllocator,
    TanhAllocator,
    WeightNorm,
)
from deepalloc.errors import SolverError

if TYPE_CHECKING:
    from deepalloc.allocators.convex import ConvexAllocator
    from deepalloc.allocators.robust import HellingerDRAllocator, NominalAllocator, TVDRAllocator

__all__ = [
    "AnalyticalMarkowitz",
    "ConvexAllocator",
    "EqualWeightAllocator",
    "HellingerDRAllocator",
    "MarkowitzAllocator",
    "MinVarianceAllocator",
    "NominalAllocator",
    "QPSettings",
    "RiskBudgetingAllocator",
    "SoftmaxAllocator",
    "SolverError",
    "SparsemaxAllocator",
    "TVDRAllocator",
    "TanhAllocator",
    "WeightNorm",
    "solve_box_qp",
]


_ROBUST = ("HellingerDRAllocator", "NominalAllocator", "TVDRAllocator")


def __getattr__(name: str) -> Any:
    if name == "ConvexAllocator":
        from deepalloc.allocators.convex import ConvexAllocator

        return ConvexAllocator
    if name in _ROBUST:
        from deepalloc.allocators import robust

        return getattr(robust, name)
    raise AttributeError(f"module 'deepalloc.allocators' has no attribute {name!r}")
