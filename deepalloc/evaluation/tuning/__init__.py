"""Hyper-parameter search on Ray Tune, nested inside a suite's walk-forward folds.

``space`` describes what may vary (:func:`choice`, :func:`uniform`, :func:`loguniform`,
:func:`randint`), ``nested`` what each trial of an outer fold may read, ``trial`` what a
trial runs, ``search`` one fold's Ray Tune experiment and its table of trials, and
``suite`` ties them together in :func:`tune_suite`. Ray is imported only when a search
starts (the ``tune`` extra).
"""

from deepalloc.evaluation.cluster import Cluster
from deepalloc.evaluation.tuning.search import Search, SearchInterrupted
from deepalloc.evaluation.tuning.space import choice, loguniform, randint, uniform
from deepalloc.evaluation.tuning.suite import TuneResult, tune_suite

__all__ = [
    "Cluster",
    "Search",
    "SearchInterrupted",
    "TuneResult",
    "choice",
    "loguniform",
    "randint",
    "tune_suite",
    "uniform",
]
