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


class NonFiniteError(ValueError):
    """An input tensor holds NaN or an infinity.

    Raised by allocators and losses before any computation, so a NaN never turns into
    valid-looking weights; the training loop treats it like a solver failure (its
    ``on_failure`` policy applies).

    Attributes
    ----------
    argument
        Name of the offending argument.
    samples
        Batch indices of the samples holding a non-finite value.
    """

    def __init__(self, message: str, argument: str, samples: list[int]):
        super().__init__(message)
        self.argument = argument
        self.samples = samples
