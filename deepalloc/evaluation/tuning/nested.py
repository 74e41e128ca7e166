"""Nested walk-forward by dates: what each trial of an outer fold may read.

The outer folds are the suite's walk-forward folds on its windows (the base lookback).
Each is fixed by dates, so that every configuration, whatever its lookback, is tested
on the same decision dates. For outer fold ``k`` with first test decision row ``t``
(a row of the returns frame), the longest lookback ``L`` of the search gives the
*cutoff* ``t - L + 1``: the first row that an outer test sample can read as input,
under any configuration. A trial receives the returns frame cut to the rows before
the cutoff (from the first row the fold's training block needs), and nothing else, so
no outer test row can reach it: leakage is impossible rather than merely absent.

Inside that frame, a trial with lookback ``l`` cuts its own windows; its inner
validation block is the last ``n_val`` samples (the same decision dates for every
lookback: the last decision date of a frame does not depend on ``l``), and its
training block the samples from the fold's first training date up to the purge
(``l + gap + horizon - 1`` samples) before the validation block. With the base
lookback as the only lookback these are exactly the suite's own training and
validation blocks. The chosen configuration is retrained on the same blocks and
tested on the fold's test dates (:func:`retrain_fold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepalloc.data import Fold, Windows, make_windows, purge_size


@dataclass(frozen=True)
class NestedFold:
    """One outer fold, by rows of the returns frame and dates.

    Attributes
    ----------
    index
        Outer fold index.
    start, cutoff
        A trial of this fold reads the returns rows ``start .. cutoff - 1`` only.
    train_start
        First training decision date.
    n_val
        Inner validation samples (the last complete samples before the cutoff).
    test_dates
        Outer test decision dates (never read by a trial).
    """

    index: int
    start: int
    cutoff: int
    train_start: pd.Timestamp
    n_val: int
    test_dates: pd.DatetimeIndex

    def frame(self, returns: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``returns`` a trial of this fold may read (a copy)."""
        return returns.iloc[self.start : self.cutoff].copy()


def nested_folds(
    returns: pd.DataFrame, windows: Windows, folds: Sequence[Fold], max_lookback: int
) -> list[NestedFold]:
    """The outer folds of a search by dates (see the module docstring).

    Parameters
    ----------
    returns
        The returns frame the windows were cut from (date x asset).
    windows
        The suite's windows (base lookback), whose ``folds`` are the outer folds.
    folds
        Outer walk-forward folds, each with a non-empty validation block.
    max_lookback
        The longest lookback any configuration of the search uses.

    Raises
    ------
    ValueError
        A fold without a validation block, or without room for a trial's training
        block under the longest lookback.
    """
    if not windows.dates.equals(returns.index):
        raise ValueError("returns: expected the dates the windows were cut from")
    out = []
    for k, fold in enumerate(folds):
        if len(fold.val) == 0:
            raise ValueError(
                f"folds: expected an inner validation block in every fold to score trials on "
                f"(val_size > 0), got none in fold {k}"
            )
        test_dates = windows.timestamps[fold.test]
        first_test_row = int(returns.index.get_loc(test_dates[0]))
        cutoff = max(0, first_test_row - max_lookback + 1)
        train_row = int(returns.index.get_loc(windows.timestamps[fold.train[0]]))
        nested = NestedFold(
            index=k,
            start=min(cutoff, max(0, train_row - max_lookback + 1)),
            cutoff=cutoff,
            train_start=windows.timestamps[fold.train[0]],
            n_val=len(fold.val),
            test_dates=pd.DatetimeIndex(test_dates),
        )
        # the longest lookback leaves the fewest training samples: check it now
        frame = nested.frame(returns)
        inner_blocks(trial_windows(frame, WindowSettings.of(windows, max_lookback)), nested)
        out.append(nested)
    return out


@dataclass(frozen=True)
class WindowSettings:
    """How a trial cuts its windows: lookback, horizon, gap and dtype."""

    lookback: int
    horizon: int
    gap: int
    dtype: torch.dtype

    @classmethod
    def of(cls, windows: Windows, lookback: int | None = None) -> WindowSettings:
        """The settings of ``windows``, with another ``lookback`` if given."""
        return cls(
            windows.lookback if lookback is None else lookback,
            windows.horizon,
            windows.gap,
            windows.data.dtype,
        )


def trial_windows(frame: pd.DataFrame, settings: WindowSettings) -> Windows | None:
    """Windows over ``frame`` with ``settings``, or ``None`` when the frame is shorter
    than one sample."""
    if len(frame) < settings.lookback + settings.gap + settings.horizon:
        return None
    return make_windows(
        frame,
        lookback=settings.lookback,
        horizon=settings.horizon,
        gap=settings.gap,
        dtype=settings.dtype,
    )


def inner_blocks(windows: Windows | None, fold: NestedFold) -> tuple[np.ndarray, np.ndarray]:
    """A trial's training and validation samples in its windows (see
    :func:`trial_windows`; ``None`` for a frame too short for any sample).

    Raises
    ------
    ValueError
        When the frame has no room for a validation block and a purged training block.
    """
    n = 0 if windows is None else windows.n_samples
    lookback = "" if windows is None else f" with lookback {windows.lookback}"
    if windows is not None:
        purge = purge_size(windows.lookback, windows.gap, windows.horizon)
        val_start = n - fold.n_val
        train_end = val_start - purge
        first = int(windows.timestamps.searchsorted(fold.train_start))
        if val_start >= 0 and train_end > first:
            return np.arange(first, train_end), np.arange(val_start, n)
    raise ValueError(
        f"lookback: expected room before the outer test block of fold {fold.index} for "
        f"{fold.n_val} validation samples and a purged training block{lookback}, got {n} samples (from {fold.train_start.date()}); use a shorter lookback "
        "or a later first test date"
    )


def retrain_fold(fold: NestedFold, returns: pd.DataFrame, windows: Windows) -> Fold:
    """The fold on which a chosen configuration is retrained and tested.

    ``windows`` are cut from the whole ``returns`` with the configuration's lookback;
    their training and validation samples are the trial's (the same rows), their test
    samples those of the outer test dates.
    """
    train, val = inner_blocks(trial_windows(fold.frame(returns), WindowSettings.of(windows)), fold)
    test = windows.timestamps.get_indexer(fold.test_dates)
    if (test < 0).any():
        raise ValueError(
            f"lookback: expected windows with every outer test date of fold {fold.index}, got "
            f"{int((test < 0).sum())} missing"
        )
    # a sample i of the frame's windows reads the same rows as sample start + i of windows
    return Fold(train=train + fold.start, val=val + fold.start, test=test)


__all__ = [
    "NestedFold",
    "WindowSettings",
    "inner_blocks",
    "nested_folds",
    "retrain_fold",
    "trial_windows",
]
