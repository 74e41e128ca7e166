"""The data layer: frames -> validated returns -> windows -> splits -> batches."""

from deepalloc.data.augment import Compose, Dropout, GaussianNoise, MultiplicativeScaling
from deepalloc.data.cpcv import (
    BacktestPath,
    combinatorial_purged_folds,
    cpcv_paths,
    describe_blocks,
)
from deepalloc.data.dataset import WindowDataset, WindowLoader
from deepalloc.data.frames import align_frames, clean_prices, prices_to_returns, validate_frame
from deepalloc.data.scaling import RobustScaler, StandardScaler
from deepalloc.data.sequential import RunBatch, SequentialLoader
from deepalloc.data.splits import Fold, holdout_split, purge_size, walk_forward_folds
from deepalloc.data.synthetic import sine_market, synthetic_market
from deepalloc.data.windows import Windows, make_windows

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
