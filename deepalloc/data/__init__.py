"""The data layer: frames -> validated returns -> windows -> splits -> batches.

The frame checks and conversions (:mod:`deepalloc.data.frames`) are imported at once:
they need only NumPy and pandas. Everything else (windows, datasets, scaling, splits,
augmentation, synthetic markets) builds torch tensors and is imported on first use of
its name (PEP 562), so the pandas-only layers can use this package without importing
torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepalloc.data.frames import (
    align_frames,
    check_returns,
    clean_prices,
    prices_to_returns,
    validate_frame,
)

if TYPE_CHECKING:
    from deepalloc.data.augment import Compose, Dropout, GaussianNoise, MultiplicativeScaling
    from deepalloc.data.cpcv import (
        BacktestPath,
        combinatorial_purged_folds,
        cpcv_paths,
        describe_blocks,
    )
    from deepalloc.data.dataset import WindowDataset, WindowLoader
    from deepalloc.data.scaling import RobustScaler, StandardScaler
    from deepalloc.data.sequential import RunBatch, SequentialLoader
    from deepalloc.data.splits import Fold, holdout_split, purge_size, walk_forward_folds
    from deepalloc.data.synthetic import sine_market, synthetic_market
    from deepalloc.data.windows import Windows, make_windows

_LAZY = {
    "BacktestPath": "cpcv",
    "combinatorial_purged_folds": "cpcv",
    "cpcv_paths": "cpcv",
    "describe_blocks": "cpcv",
    "RunBatch": "sequential",
    "SequentialLoader": "sequential",
    "Compose": "augment",
    "Dropout": "augment",
    "GaussianNoise": "augment",
    "MultiplicativeScaling": "augment",
    "WindowDataset": "dataset",
    "WindowLoader": "dataset",
    "RobustScaler": "scaling",
    "StandardScaler": "scaling",
    "Fold": "splits",
    "holdout_split": "splits",
    "purge_size": "splits",
    "walk_forward_folds": "splits",
    "sine_market": "synthetic",
    "synthetic_market": "synthetic",
    "Windows": "windows",
    "make_windows": "windows",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BacktestPath",
    "Compose",
    "Dropout",
    "Fold",
    "GaussianNoise",
    "MultiplicativeScaling",
    "RobustScaler",
    "RunBatch",
    "SequentialLoader",
    "StandardScaler",
    "WindowDataset",
    "WindowLoader",
    "Windows",
    "align_frames",
    "check_returns",
    "clean_prices",
    "combinatorial_purged_folds",
    "cpcv_paths",
    "describe_blocks",
    "holdout_split",
    "make_windows",
    "prices_to_returns",
    "purge_size",
    "sine_market",
    "synthetic_market",
    "validate_frame",
    "walk_forward_folds",
]
