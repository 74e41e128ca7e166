"""Combinatorial purged cross-validation: folds, purge, embargo and backtest paths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.data import (
    combinatorial_purged_folds,
    cpcv_paths,
    describe_blocks,
    make_windows,
    purge_size,
)
from tests.conftest import random_frame


def windows_for(n_samples, lookback, horizon, gap):
    frame = random_frame(n_samples + lookback + gap + horizon - 1, 2, seed=0)
    w = make_windows(frame, lookback=lookback, horizon=horizon, gap=gap)
    assert w.n_samples == n_samples
    return w


def sample_rows(w, i):
    """Every history row sample i reads, as input or target."""
    return set(range(i, i + w.lookback + w.gap + w.horizon))


def brute_force_train(w, test_groups, groups, embargo):
    """Training samples by definition: not tested, no row shared with a test sample, and
    not among the ``embargo`` samples after each test group's purge."""
    test = set(itertools.chain.from_iterable(groups[g] for g in test_groups))
    test_rows = set().union(*(sample_rows(w, j) for j in test))
    purge = purge_size(w.lookback, w.gap, w.horizon)
    embargoed = set()
    for g in test_groups:
        end = groups[g][-1]
        embargoed.update(range(end + purge + 1, end + purge + 1 + embargo))
    return [
        i
        for i in range(w.n_samples)
        if i not in test and not (sample_rows(w, i) & test_rows) and i not in embargoed
    ]


cases = st.tuples(
    st.integers(2, 8),  # n_groups
    st.integers(1, 7),  # n_test_groups (clipped below)
    st.integers(1, 6),  # lookback
    st.integers(1, 3),  # horizon
    st.integers(0, 2),  # gap
    st.integers(0, 5),  # embargo
)


@settings(max_examples=60, deadline=None)
@given(cases, st.integers(0, 40))
def test_folds_match_brute_force(case, extra):
    n_groups, k, lookback, horizon, gap, embargo = case
    k = min(k, n_groups - 1)
    purge = purge_size(lookback, gap, horizon)
    # enough samples per group that training survives purge and embargo
    n = n_groups * (2 * purge + embargo + 2) + extra
    w = windows_for(n, lookback, horizon, gap)
    folds = combinatorial_purged_folds(w, n_groups, k, embargo=embargo)
    groups = [list(g) for g in np.array_split(np.arange(n), n_groups)]
    combos = list(itertools.combinations(range(n_groups), k))
    assert len(folds) == len(combos) == math.comb(n_groups, k)
    for fold, combo in zip(folds, combos):
        assert fold.test.tolist() == sorted(itertools.chain.from_iterable(groups[g] for g in combo))
        assert fold.train.tolist() == brute_force_train(w, combo, groups, embargo)
        assert len(fold.val) == 0
        assert not set(fold.train) & set(fold.test)
        # purge: no training window within `purge` samples of a test window, either side
        gaps = np.abs(fold.train[:, None] - fold.test[None, :])
        assert gaps.min() > purge


@settings(max_examples=60, deadline=None)
@given(cases)
def test_paths_cover_every_sample_once(case):
    n_groups, k, *_ = case
    k = min(k, n_groups - 1)
    w = windows_for(n_groups * 12, 2, 1, 0)
    folds = combinatorial_purged_folds(w, n_groups, k, purge=1)
    paths = cpcv_paths(folds, n_groups, k)
    assert len(paths) == math.comb(n_groups, k) * k // n_groups
    used = []
    for path in paths:
        assert np.array_equal(path.samples, np.arange(w.n_samples))  # each sample once
        assert [g for _, g in path.segments] == list(range(n_groups))
        for fold_index, samples in path.pieces():
            assert set(samples) <= set(folds[fold_index].test)
            assert not set(samples) & set(folds[fold_index].train)
        used.extend(path.segments)
    # every (fold, test group) pair is used by exactly one path
    expected = [(i, g) for i, c in enumerate(itertools.combinations(range(n_groups), k)) for g in c]
    assert sorted(used) == sorted(expected)


@settings(max_examples=40, deadline=None)
@given(cases, st.integers(1, 15))
def test_validation_block_is_purged(case, val_size):
    n_groups, k, lookback, horizon, gap, embargo = case
    k = min(k, n_groups - 1)
    purge = purge_size(lookback, gap, horizon)
    # every group keeps more than val_size + purge training samples after purge and embargo
    n = n_groups * (3 * purge + embargo + val_size + 3)
    w = windows_for(n, lookback, horizon, gap)
    plain = combinatorial_purged_folds(w, n_groups, k, embargo=embargo)
    folds = combinatorial_purged_folds(w, n_groups, k, embargo=embargo, val_size=val_size)
    for fold, ref in zip(folds, plain):
        assert np.array_equal(fold.test, ref.test)
        # validation: the last val_size training samples of the fold without validation
        assert np.array_equal(fold.val, ref.train[-val_size:])
        assert set(fold.train) <= set(ref.train)
        assert np.abs(fold.train[:, None] - fold.val[None, :]).min() > purge
        assert np.abs(fold.val[:, None] - fold.test[None, :]).min() > purge
        # nothing else removed: the training samples left are those before the purge
        assert np.array_equal(fold.train, ref.train[ref.train < fold.val[0] - purge])


def test_embargo_removes_samples_after_each_test_group():
    w = windows_for(100, 3, 1, 0)  # purge 3
    folds = combinatorial_purged_folds(w, 5, 2, embargo=4)
    fold = folds[list(itertools.combinations(range(5), 2)).index((1, 3))]
    # groups of 20: tests 20-39 and 60-79; purged 17-19, 40-42, 57-59, 80-82; embargo 43-46, 83-86
    removed = set(range(100)) - set(fold.train) - set(fold.test)
    assert removed == set(range(17, 20)) | set(range(40, 47)) | set(range(57, 60)) | set(
        range(80, 87)
    )


def test_describe_blocks_lists_the_runs():
    w = windows_for(100, 3, 1, 0)
    fold = combinatorial_purged_folds(w, 5, 2, val_size=5)[1]  # tests groups 0 and 2
    table = describe_blocks(fold, w.timestamps)
    assert table["part"].tolist() == ["test", "train", "test", "train", "val"]
    # train 23-36; test 40-59; train 63-99 less val 95-99 and its purge 92-94
    assert table["size"].tolist() == [20, 14, 20, 29, 5]
    assert table["start"].iloc[0] == w.timestamps[0]
    assert isinstance(table["end"].iloc[-1], pd.Timestamp)
    summary = fold.describe(w.timestamps)  # the one-line summary still works
    assert summary["test_size"] == 40 and summary["test_end"] == w.timestamps[59]


def test_errors():
    w = windows_for(50, 3, 1, 0)
    with pytest.raises(ValueError, match="n_test_groups"):
        combinatorial_purged_folds(w, 4, 4)
    with pytest.raises(ValueError, match="n_groups"):
        combinatorial_purged_folds(w, 1, 1)
    with pytest.raises(ValueError, match="n_groups"):
        combinatorial_purged_folds(w, 51, 1)
    with pytest.raises(ValueError, match="training samples"):
        combinatorial_purged_folds(w, 2, 1, purge=30)
    with pytest.raises(TypeError, match="embargo"):
        combinatorial_purged_folds(w, 5, 2, embargo=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="val_size"):
        combinatorial_purged_folds(w, 5, 2, val_size=1.5)
    folds = combinatorial_purged_folds(w, 5, 2)
    with pytest.raises(ValueError, match="C\\(6, 2\\)"):
        cpcv_paths(folds, 6, 2)
    with pytest.raises(ValueError, match="fold 0"):
        cpcv_paths(folds[::-1], 5, 2)
