"""Run a suite's folds serially, on local processes (joblib) or on a Ray cluster."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Backend = Literal["loky", "threading", "ray"]


def map_folds(
    function: Callable[[T], R], jobs: Sequence[T], n_jobs: int, backend: Backend | None
) -> list[R]:
    """``[function(job) for job in jobs]``, in parallel when ``n_jobs != 1`` or a backend
    is given; results keep the order of ``jobs``."""
    if n_jobs == 1 and backend is None:
        return [function(job) for job in jobs]
    from joblib import Parallel, delayed, parallel_backend

    if backend == "ray":
        try:
            from ray.util.joblib import register_ray
        except ImportError as err:
            raise ImportError(
                "backend='ray' needs the 'ray' extra: pip install 'deepalloc[ray]'"
            ) from err
        register_ray()
    with parallel_backend(backend or "loky", n_jobs=n_jobs):
        return list(Parallel()(delayed(function)(job) for job in jobs))
