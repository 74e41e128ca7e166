"""Combinatorial purged cross-validation (CPCV) folds and the backtest paths they imply.

López de Prado (2018), *Advances in Financial Machine Learning*, chapter 12. The samples
(see :class:`deepalloc.data.Windows`; sample ``i`` reads rows ``i .. i + lookback - 1``
and its target reaches row ``i + lookback + gap + horizon - 1``) are cut, in time order,
into ``N = n_groups`` contiguous groups of nearly equal size (``numpy.array_split``).
Every choice of ``k = n_test_groups`` groups is one fold, in the lexicographic order of
``itertools.combinations(range(N), k)``: its test set is those ``k`` groups (usually not
contiguous) and its training set is every other sample except

- the **purge**: samples within ``purge`` samples of a test sample, on either side. With
  the default ``purge_size(lookback, gap, horizon)`` these are exactly the samples whose
  rows (inputs or targets) overlap a test sample's rows;
- the **embargo**: the ``embargo`` samples that follow the purge after each test group
  (training on what comes right after a test period can still carry its information
  through serial dependence).

The ``C(N, k)`` folds test each group ``C(N - 1, k - 1) = C(N, k) k / N`` times, and
so yield that many backtest paths (:func:`cpcv_paths`): each path takes every group
once, each from a different fold, and covers every sample exactly once.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from deepalloc.data.splits import Fold, purge_size
from deepalloc.data.windows import Windows


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}: expected an integer of at least {low}, got {value}")
    return int(value)


def _check_groups(n_samples: int, n_groups: object, n_test_groups: object) -> tuple[int, int]:
    n = _check_int("n_groups", n_groups, 2)
    k = _check_int("n_test_groups", n_test_groups, 1)
    if k >= n:
        raise ValueError(f"n_test_groups: expected fewer than n_groups={n}, got {k}")
    if n > n_samples:
        raise ValueError(f"n_groups: expected at most the {n_samples} samples, got {n}")
    return n, k


def _groups(n_samples: int, n_groups: int) -> list[np.ndarray]:
    return np.array_split(np.arange(n_samples), n_groups)


def _validation(train: np.ndarray, val_size: int | float, purge: int) -> tuple[np.ndarray, ...]:
    """Hold out the last training samples for validation and purge the training before them."""
    if isinstance(val_size, bool) or not isinstance(val_size, int | float):
        raise TypeError(f"val_size: expected an int or a fraction, got {val_size!r}")
    if isinstance(val_size, float):
        if not 0.0 <= val_size < 1.0:
            raise ValueError(f"val_size: expected a fraction in [0, 1), got {val_size}")
        n_val = round(val_size * len(train))
    else:
        n_val = _check_int("val_size", val_size, 0)
    if n_val == 0:
        return train, train[:0]
    val = train[len(train) - n_val :] if n_val <= len(train) else train
    return train[train < val[0] - purge], val


def combinatorial_purged_folds(
    windows: Windows,
    n_groups: int,
    n_test_groups: int,
    purge: int | None = None,
    embargo: int = 0,
    *,
    val_size: int | float = 0,
) -> list[Fold]:
    """CPCV folds: every choice of ``n_test_groups`` of ``n_groups`` groups as a test set.

    Parameters
    ----------
    windows
        The samples to split (only their count and window lengths are used).
    n_groups
        Number ``N`` of contiguous groups, at least 2.
    n_test_groups
        Number ``k`` of test groups per fold, ``1 <= k < N``.
    purge
        Training samples removed on each side of every test group; by default
        ``purge_size(lookback, gap, horizon)``, which removes every training sample
        whose rows overlap a test sample's rows.
    embargo
        Further training samples removed after the purge that follows each test group.
    val_size
        Validation samples for early stopping (an int, or a fraction of the fold's
        training samples): the **last** ``val_size`` training samples in time order
        (they may straddle a test group), with the ``purge`` training samples before
        them removed, so no remaining training sample's rows overlap a validation
        sample's. Taking them at the end keeps one rule for every fold; when the last
        group is tested this is the walk-forward arrangement (train, val, test).

    Returns
    -------
    list of Fold
        ``C(N, k)`` folds in the order of ``itertools.combinations(range(N), k)``;
        ``Fold.test`` is sorted and usually not contiguous (see :func:`describe_blocks`).
    """
    n = windows.n_samples
    n_grp, k = _check_groups(n, n_groups, n_test_groups)
    size = (
        purge_size(windows.lookback, windows.gap, windows.horizon)
        if purge is None
        else _check_int("purge", purge, 0)
    )
    gap_after = _check_int("embargo", embargo, 0)
    groups = _groups(n, n_grp)
    folds = []
    for combo in itertools.combinations(range(n_grp), k):
        removed = np.zeros(n, dtype=bool)
        for g in combo:
            first, last = int(groups[g][0]), int(groups[g][-1])
            removed[max(0, first - size) : last + 1 + size + gap_after] = True
        train, val = _validation(np.flatnonzero(~removed), val_size, size)
        if len(train) == 0:
            raise ValueError(
                f"combinatorial_purged_folds: expected training samples when testing groups "
                f"{combo}, got none after a purge of {size} and an embargo of {gap_after} "
                f"with val_size={val_size} ({n} samples in {n_grp} groups)"
            )
        test = np.concatenate([groups[g] for g in combo])
        folds.append(Fold(train=train, val=val, test=test))
    return folds


@dataclass(frozen=True, eq=False)
class BacktestPath:
    """One CPCV backtest path: every group tested once, by one fold each.

    Attributes
    ----------
    segments
        ``(fold index, group)`` for every group in time order: the fold whose model
        makes this path's decisions on that group's samples.
    group_samples
        Sample indices of each group, in time order.
    """

    segments: tuple[tuple[int, int], ...]
    group_samples: tuple[np.ndarray, ...]

    def pieces(self) -> list[tuple[int, np.ndarray]]:
        """``(fold index, sample indices)`` per group, in time order."""
        return [(fold, self.group_samples[group]) for fold, group in self.segments]

    @property
    def samples(self) -> np.ndarray:
        """Every sample the path covers, in time order (each exactly once)."""
        return np.concatenate([self.group_samples[g] for _, g in self.segments])


def cpcv_paths(folds: list[Fold], n_groups: int, n_test_groups: int) -> list[BacktestPath]:
    """The ``C(N, k) k / N`` backtest paths of CPCV folds (López de Prado 2018, 12.4).

    Group ``g`` is tested by ``C(N - 1, k - 1)`` folds; path ``p`` takes it from the
    ``p``-th of them (in fold order), so each fold's ``k`` test groups go to ``k``
    different paths and every ``(fold, group)`` test is used exactly once.

    Parameters
    ----------
    folds
        The output of :func:`combinatorial_purged_folds` with the same ``n_groups`` and
        ``n_test_groups`` (checked).
    n_groups, n_test_groups
        ``N`` and ``k``.

    Returns
    -------
    list of BacktestPath
    """
    if not folds:
        raise ValueError("folds: expected the folds of combinatorial_purged_folds, got none")
    n_samples = int(max(fold.test.max() for fold in folds)) + 1
    n_grp, k = _check_groups(n_samples, n_groups, n_test_groups)
    combos = list(itertools.combinations(range(n_grp), k))
    if len(folds) != len(combos):
        raise ValueError(f"folds: expected C({n_grp}, {k}) = {len(combos)} folds, got {len(folds)}")
    groups = _groups(n_samples, n_grp)
    for i, (fold, combo) in enumerate(zip(folds, combos, strict=True)):
        if not np.array_equal(fold.test, np.concatenate([groups[g] for g in combo])):
            raise ValueError(
                f"folds: expected fold {i} to test groups {combo} of {n_grp} (the order of "
                f"combinatorial_purged_folds), got other test samples"
            )
    n_paths = math.comb(n_grp, k) * k // n_grp
    table = np.full((n_paths, n_grp), -1)
    used = [0] * n_grp
    for i, combo in enumerate(combos):
        for g in combo:
            table[used[g], g] = i
            used[g] += 1
    return [
        BacktestPath(
            segments=tuple((int(table[p, g]), g) for g in range(n_grp)),
            group_samples=tuple(groups),
        )
        for p in range(n_paths)
    ]


def describe_blocks(fold: Fold, timestamps: pd.DatetimeIndex) -> pd.DataFrame:
    """Each contiguous run of train, val and test samples of a fold, with its dates.

    :meth:`Fold.describe` gives one first and last date per part, which hides the gaps of
    a CPCV fold; this lists the runs.

    Returns
    -------
    pandas.DataFrame
        Columns ``part``, ``start``, ``end`` (decision dates) and ``size``, in time order.
    """
    rows = []
    for part in ("train", "val", "test"):
        idx = np.asarray(getattr(fold, part))
        if len(idx) == 0:
            continue
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for run in np.split(idx, breaks):
            rows.append((part, timestamps[run[0]], timestamps[run[-1]], len(run), run[0]))
    frame = pd.DataFrame(rows, columns=["part", "start", "end", "size", "first"])
    return frame.sort_values("first", kind="stable").drop(columns="first").reset_index(drop=True)
