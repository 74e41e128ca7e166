"""Exceptions shared across layers."""

from __future__ import annotations


class SolverError(RuntimeError):
    """An allocation solver failed (infeasible, not converged, numerical failure).

    Attributes
    ----------
    samples
        Batch indices of the samples that failed, when known.
    """

    def __init__(self, message: str, samples: list[int] | None = None):
        super().__init__(message)
        self.samples = samples or []
