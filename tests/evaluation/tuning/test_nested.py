"""Nested folds by dates: with the base lookback alone they are the suite's own folds;
with longer lookbacks no trial can read a row of the outer test block."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from deepalloc.data import make_windows, synthetic_market, walk_forward_folds
from deepalloc.evaluation.tuning.nested import (
    WindowSettings,
    inner_blocks,
    nested_folds,
    retrain_fold,
    trial_windows,
)

RETURNS = synthetic_market(420, 3, seed=0)

splits = st.fixed_dictionaries(
    {
        "lookback": st.integers(2, 15),
        "horizon": st.integers(1, 6),
        "gap": st.integers(0, 2),
        "test_size": st.integers(20, 60),
        "initial_train": st.integers(200, 260),
        "train_size": st.one_of(st.none(), st.integers(100, 150)),
        "val_size": st.one_of(st.integers(10, 30), st.sampled_from([0.15, 0.25])),
    }
)


def _folds(split):
    windows = make_windows(
        RETURNS, lookback=split["lookback"], horizon=split["horizon"], gap=split["gap"]
    )
    folds = walk_forward_folds(
        windows,
        test_size=split["test_size"],
        initial_train=split["initial_train"],
        train_size=split["train_size"],
        val_size=split["val_size"],
    )
    return windows, folds


@settings(max_examples=25, deadline=None)
@given(splits)
def test_with_the_base_lookback_alone_the_blocks_are_the_suites(split):
    windows, folds = _folds(split)
    for fold, nested in zip(folds, nested_folds(RETURNS, windows, folds, windows.lookback)):
        again = retrain_fold(nested, RETURNS, windows)
        np.testing.assert_array_equal(again.train, fold.train)
        np.testing.assert_array_equal(again.val, fold.val)
        np.testing.assert_array_equal(again.test, fold.test)


@settings(max_examples=25, deadline=None)
@given(splits, st.integers(0, 25))
def test_longer_lookbacks_read_nothing_of_the_test_block_and_keep_the_purge(split, extra):
    windows, folds = _folds(split)
    longest = windows.lookback + extra
    rows = pd.RangeIndex(len(RETURNS))
    row_of = pd.Series(rows, index=RETURNS.index)
    h, g = windows.horizon, windows.gap
    try:
        nested_all = nested_folds(RETURNS, windows, folds, longest)
    except ValueError as err:  # a rolling window too short for the longest lookback
        assert "expected room before the outer test block" in str(err)
        assume(False)
    for fold, nested in zip(folds, nested_all):
        frame = nested.frame(RETURNS)
        first_test_row = row_of[windows.timestamps[fold.test[0]]]
        # no row that a test sample reads as input, under any lookback up to the longest
        assert row_of[frame.index[-1]] < first_test_row - longest + 1
        val_dates = None
        for lookback in sorted({windows.lookback, (windows.lookback + longest) // 2, longest}):
            inner = trial_windows(frame, WindowSettings.of(windows, lookback))
            train, val = inner_blocks(inner, nested)
            dates = inner.timestamps[val]
            val_dates = dates if val_dates is None else val_dates
            pd.testing.assert_index_equal(dates, val_dates)  # the same for every lookback
            assert len(val) == len(fold.val)
            train_rows = row_of[inner.timestamps[train]].to_numpy()
            first_val_input = row_of[dates[0]] - lookback + 1
            assert train_rows.max() + g + h < first_val_input  # purged
            assert inner.timestamps[train[0]] >= windows.timestamps[fold.train[0]]
            # the retrain reads the same rows from windows of the whole history
            whole = make_windows(RETURNS, lookback=lookback, horizon=h, gap=g)
            again = retrain_fold(nested, RETURNS, whole)
            pd.testing.assert_index_equal(whole.timestamps[again.val], dates)
            pd.testing.assert_index_equal(whole.timestamps[again.train], inner.timestamps[train])
            pd.testing.assert_index_equal(
                whole.timestamps[again.test], windows.timestamps[fold.test]
            )
