"""The size of a return sample's tail: one definition for every VaR/CVaR in the library.

Used by the differentiable measures (:mod:`deepalloc.functional.measures`) and by the
reporting metrics (:mod:`deepalloc.metrics`), which must agree for every sample length;
this module imports nothing, so the pandas-only metrics stay free of torch
(:ref:`conventions-tails`).
"""

from __future__ import annotations


def check_confidence(confidence: float) -> None:
    """Raise ``ValueError`` unless ``0 < confidence < 1``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence: expected a level in (0, 1), got {confidence}")


def tail_count(n: int, confidence: float) -> int:
    """Returns in the tail of ``n`` at ``confidence``: ``int((n - 1) (1 - confidence)) + 1``.

    empyrical's definition of the CVaR tail (the worst returns up to and including the
    ``int((n - 1) cutoff)``-th order statistic, ``cutoff = 1 - confidence``).
    """
    check_confidence(confidence)
    return int((n - 1) * (1.0 - confidence)) + 1
