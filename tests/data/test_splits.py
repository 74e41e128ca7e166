import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.data import holdout_split, make_windows, purge_size, walk_forward_folds
from tests.conftest import random_frame


def rows_of(w, idx, part):
    """Set of history rows sample indices read as input ('x') or target ('y')."""
    rows = set()
    for i in idx:
        if part == "x":
            rows.update(range(i, i + w.lookback))
        else:
            start = i + w.lookback + w.gap
            rows.update(range(start, start + w.horizon))
    return rows


def assert_no_leak(w, fit_idx, eval_idx):
    """No fitted target row is at or after the first row an evaluated sample reads."""
    if len(fit_idx) == 0 or len(eval_idx) == 0:
        return
    first_eval_row = min(rows_of(w, eval_idx, "x"))
    assert max(rows_of(w, fit_idx, "y")) < first_eval_row
    assert not rows_of(w, fit_idx, "y") & (rows_of(w, eval_idx, "x") | rows_of(w, eval_idx, "y"))


@settings(max_examples=40, deadline=None)
@given(
    lookback=st.integers(1, 10),
    horizon=st.integers(1, 6),
    gap=st.integers(0, 4),
    test=st.integers(5, 40),
    val=st.integers(0, 30),
)
def test_holdout_is_purged(lookback, horizon, gap, test, val):
    w = make_windows(random_frame(300, 2, seed=0), lookback=lookback, horizon=horizon, gap=gap)
    fold = holdout_split(w, test=test, val=val)
    assert len(fold.test) == test and len(fold.val) == val
    assert_no_leak(w, fold.train, fold.test)
    assert_no_leak(w, fold.train, fold.val)
    assert_no_leak(w, fold.val, fold.test)
    # the purge is tight: one sample more would leak
    assert fold.train[-1] + 1 + purge_size(lookback, gap, horizon) == (
        fold.val[0] if val else fold.test[0]
    )


@settings(max_examples=30, deadline=None)
@given(
    lookback=st.integers(1, 10),
    horizon=st.integers(1, 6),
    gap=st.integers(0, 3),
    test_size=st.integers(5, 50),
    train_size=st.one_of(st.none(), st.integers(40, 100)),
    val_size=st.integers(0, 15),
)
def test_walk_forward_is_purged_and_covers(lookback, horizon, gap, test_size, train_size, val_size):
    w = make_windows(random_frame(400, 2, seed=1), lookback=lookback, horizon=horizon, gap=gap)
    folds = walk_forward_folds(
        w, test_size=test_size, initial_train=150, train_size=train_size, val_size=val_size
    )
    tests = np.concatenate([f.test for f in folds])
    np.testing.assert_array_equal(tests, np.arange(150, len(w)))
    for f in folds:
        assert_no_leak(w, f.train, f.test)
        assert_no_leak(w, f.val, f.test)
        assert_no_leak(w, f.train, f.val)
        if train_size is not None:
            assert len(f.train) + len(f.val) <= train_size


def test_walk_forward_calendar_blocks():
    w = make_windows(random_frame(800, 2, seed=2), lookback=20, horizon=5)
    folds = walk_forward_folds(w, test_size="Q", initial_train="2021-01-01", train_size="365D")
    starts = [w.timestamps[f.test[0]] for f in folds]
    assert starts[0] == pd.Timestamp("2021-01-01")
    assert all(s.is_quarter_start or s.day <= 3 for s in starts)
    for f in folds:
        span = w.timestamps[f.test[0]] - w.timestamps[f.train[0]]
        assert span <= pd.Timedelta("365D")
        assert_no_leak(w, f.train, f.test)


def test_holdout_by_date_and_errors():
    w = make_windows(random_frame(300, 2, seed=3), lookback=10, horizon=5)
    fold = holdout_split(w, test="2020-10-01")
    assert w.timestamps[fold.test[0]] >= pd.Timestamp("2020-10-01")
    with pytest.raises(ValueError, match="expected room for train"):
        holdout_split(w, test=0.5, val=0.49)
    with pytest.raises(ValueError, match="expected a fraction in \\[0, 1\\)"):
        holdout_split(w, test=1.5)
    with pytest.raises(ValueError, match="up to the last decision date"):
        holdout_split(w, test="2030-01-01")
