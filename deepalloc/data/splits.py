"""Time splits and walk-forward folds, purged here.

Samples are indexed in time order (see :class:`deepalloc.data.Windows`). Sample ``i``
reads rows ``i .. i + lookback - 1`` and its target covers rows
``i + lookback + gap .. i + lookback + gap + horizon - 1``. A block of samples that is
used to fit (train, or validation for early stopping) must have every target row
strictly before the first input row of the block evaluated after it, so nothing an
evaluated sample sees, as input or as target, was ever a training target. That removes
``lookback + gap + horizon - 1`` samples at every boundary: the purge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pandas as pd

from deepalloc.data.windows import Windows

SizeSpec: TypeAlias = int | float | str | pd.Timestamp


def purge_size(lookback: int, gap: int, horizon: int) -> int:
    """Samples removed between a fitted block and the block evaluated after it."""
    return lookback + gap + horizon - 1


@dataclass(frozen=True)
class Fold:
    """Sample indices of one split, in time order.

    Attributes
    ----------
    train, val, test
        Integer sample indices (``val`` may be empty).
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def describe(self, timestamps: pd.DatetimeIndex) -> dict[str, object]:
        """First and last decision date and size of each block."""
        out: dict[str, object] = {}
        for name in ("train", "val", "test"):
            idx = getattr(self, name)
            out[f"{name}_size"] = len(idx)
            out[f"{name}_start"] = timestamps[idx[0]] if len(idx) else None
            out[f"{name}_end"] = timestamps[idx[-1]] if len(idx) else None
        return out


def _resolve_count(spec: SizeSpec, n: int, name: str) -> int:
    """A block size given as samples (int) or a fraction of ``n`` (float in (0, 1))."""
    if isinstance(spec, bool):
        raise TypeError(f"{name}: expected an int or a fraction, got {spec!r}")
    if isinstance(spec, int):
        if spec < 0:
            raise ValueError(f"{name}: expected a non-negative number of samples, got {spec}")
        return spec
    if isinstance(spec, float):
        if not 0.0 <= spec < 1.0:
            raise ValueError(f"{name}: expected a fraction in [0, 1), got {spec}")
        return round(spec * n)
    raise TypeError(f"{name}: expected an int (samples) or a float (fraction), got {spec!r}")


def _first_index_at(timestamps: pd.DatetimeIndex, date: str | pd.Timestamp, name: str) -> int:
    when = pd.Timestamp(date)
    pos = int(timestamps.searchsorted(when, side="left"))
    if pos >= len(timestamps):
        raise ValueError(
            f"{name}: expected a date up to the last decision date {timestamps[-1].date()}, "
            f"got {when.date()}"
        )
    return pos


def holdout_split(
    windows: Windows,
    *,
    test: SizeSpec = 0.2,
    val: SizeSpec = 0.0,
) -> Fold:
    """Split samples into train | val | test blocks in time order, purged at each boundary.

    Parameters
    ----------
    windows
        The samples to split.
    test
        Test block: a number of samples (int), a fraction of all samples (float), or
        the first test decision date (str or Timestamp).
    val
        Validation block before the test block: samples (int) or a fraction (float).

    Returns
    -------
    Fold
        Train, validation and test indices with ``purge_size`` samples removed before
        the validation block and before the test block.
    """
    n = windows.n_samples
    purge = purge_size(windows.lookback, windows.gap, windows.horizon)
    if isinstance(test, str | pd.Timestamp):
        test_start = _first_index_at(windows.timestamps, test, "test")
    else:
        test_start = n - _resolve_count(test, n, "test")
    n_val = _resolve_count(val, n, "val")
    val_end = test_start - (purge if n_val else 0)
    val_start = val_end - n_val
    train_end = (val_start if n_val else test_start) - purge
    if train_end <= 0 or test_start >= n or val_start < 0:
        raise ValueError(
            f"holdout_split: expected room for train, val={n_val} and test samples with a purge "
            f"of {purge} at each boundary, got only {n} samples (test starts at {test_start})"
        )
    return Fold(
        train=np.arange(0, train_end),
        val=np.arange(val_start, val_end),
        test=np.arange(test_start, n),
    )


def _test_blocks(
    timestamps: pd.DatetimeIndex, start: int, test_size: int | str
) -> list[np.ndarray]:
    n = len(timestamps)
    if isinstance(test_size, int):
        if test_size < 1:
            raise ValueError(f"test_size: expected a positive number of samples, got {test_size}")
        return [np.arange(s, min(s + test_size, n)) for s in range(start, n, test_size)]
    periods = timestamps[start:].to_period(test_size)
    codes = pd.factorize(periods)[0]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return [start + block for block in np.split(np.arange(n - start), bounds)]


def walk_forward_folds(
    windows: Windows,
    *,
    test_size: int | str,
    initial_train: SizeSpec,
    train_size: int | str | None = None,
    val_size: SizeSpec = 0,
) -> list[Fold]:
    """Walk-forward folds: retrain, then test on the next block, and move on.

    Parameters
    ----------
    windows
        The samples to split.
    test_size
        Length of each test block, and so the retraining interval: samples (int) or a
        pandas period frequency (``"M"``, ``"Q"``, ``"Y"``) for calendar blocks.
    initial_train
        Where the first test block starts: samples before it (int), a fraction of all
        samples (float), or the first test decision date (str or Timestamp).
    train_size
        ``None`` for an expanding window (all past samples), or a rolling window of
        that many samples (int) or that calendar span (a pandas offset such as ``"5Y"``
        or ``"730D"``) before the purge.
    val_size
        Samples (int) or fraction of the fold's training samples (float) held out at
        the end of each training window for early stopping, purged on both sides.

    Returns
    -------
    list of Fold
        Folds in time order; their test blocks are disjoint and cover every sample from
        the first test date to the end.
    """
    n = windows.n_samples
    ts = windows.timestamps
    purge = purge_size(windows.lookback, windows.gap, windows.horizon)
    if isinstance(initial_train, str | pd.Timestamp):
        start = _first_index_at(ts, initial_train, "initial_train")
    else:
        start = _resolve_count(initial_train, n, "initial_train")
    if not 0 < start < n:
        raise ValueError(f"initial_train: expected between 1 and {n - 1} samples, got {start}")
    folds = []
    for test in _test_blocks(ts, start, test_size):
        fit_end = test[0] - purge
        if isinstance(train_size, str):
            fit_start = int(
                ts.searchsorted(ts[test[0]] - pd.tseries.frequencies.to_offset(train_size))
            )
        elif train_size is None:
            fit_start = 0
        else:
            fit_start = max(0, fit_end - train_size)
        fit = np.arange(fit_start, max(fit_start, fit_end))
        n_val = _resolve_count(val_size, len(fit), "val_size")
        if n_val:
            val = fit[len(fit) - n_val :]
            train = fit[: max(0, len(fit) - n_val - purge)]
        else:
            val, train = fit[:0], fit
        if len(train) == 0:
            raise ValueError(
                f"walk_forward_folds: expected training samples before the test block starting "
                f"{ts[test[0]].date()}, got none after a purge of {purge} (raise initial_train)"
            )
        folds.append(Fold(train=train, val=val, test=test))
    return folds
