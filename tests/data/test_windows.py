import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.data import make_windows
from tests.conftest import random_frame


def naive_windows(channels, targets, lookback, horizon, gap):
    """Reference: an explicit loop over decision rows t."""
    t_len = len(channels[0])
    xs, ys, ts = [], [], []
    for t in range(lookback - 1, t_len - gap - horizon):
        xs.append(np.stack([c.to_numpy()[t - lookback + 1 : t + 1].T for c in channels]))
        ys.append(np.stack([c.to_numpy()[t + 1 + gap : t + gap + horizon + 1].T for c in targets]))
        ts.append(channels[0].index[t])
    return np.array(xs), np.array(ys), pd.DatetimeIndex(ts)


@settings(max_examples=40, deadline=None)
@given(
    n_days=st.integers(10, 60),
    n_assets=st.integers(1, 5),
    n_channels=st.integers(1, 3),
    lookback=st.integers(1, 8),
    horizon=st.integers(1, 5),
    gap=st.integers(0, 3),
    form=st.sampled_from(["dict", "multiindex"]),
)
def test_make_windows_equals_naive_loop(n_days, n_assets, n_channels, lookback, horizon, gap, form):
    if n_days < lookback + gap + horizon:
        return
    chans = [random_frame(n_days, n_assets, seed=k) for k in range(n_channels)]
    target = random_frame(n_days, n_assets, seed=99)
    if form == "dict":
        feats = {f"c{k}": c for k, c in enumerate(chans)}
    else:
        feats = pd.concat({f"c{k}": c for k, c in enumerate(chans)}, axis=1)
    w = make_windows(
        feats, lookback=lookback, horizon=horizon, gap=gap, targets=target, dtype=torch.float64
    )
    x_ref, y_ref, ts_ref = naive_windows(chans, [target], lookback, horizon, gap)
    np.testing.assert_array_equal(w.x.numpy(), x_ref)
    np.testing.assert_array_equal(w.y.numpy(), y_ref)
    assert w.timestamps.equals(ts_ref)
    assert w.channels == tuple(f"c{k}" for k in range(n_channels))
    # x and y never overlap in time: the last x date is the decision date, y starts after the gap
    dates = w.dates
    for i in range(len(w)):
        last_x = dates.get_loc(w.timestamps[i])
        assert last_x + 1 + gap <= len(dates) - 1
        assert dates[last_x] < dates[last_x + 1 + gap]


def test_windows_are_views_not_copies():
    frame = random_frame(2000, 50, seed=0)
    w = make_windows(frame, lookback=252, horizon=20)
    x = w.x
    assert x.untyped_storage().data_ptr() == w.data.untyped_storage().data_ptr()
    assert x.untyped_storage().nbytes() == w.data.numel() * w.data.element_size()
    assert x.shape == (2000 - 252 + 1 - 20, 1, 50, 252)


def test_single_frame_defaults_targets_to_features(returns_frame):
    w = make_windows(returns_frame, lookback=5, horizon=2)
    assert w.target_channels == ("returns",)
    torch.testing.assert_close(w.y[0, 0, :, 0], w.x[1, 0, :, -1])


def test_horizon_zero_gives_inputs_only(returns_frame):
    w = make_windows(returns_frame, lookback=5, horizon=0)
    assert w.y is None
    assert len(w) == len(returns_frame) - 4
    assert w.timestamps[-1] == returns_frame.index[-1]


def test_several_channels_need_targets(returns_frame):
    with pytest.raises(ValueError, match="targets: expected a returns frame"):
        make_windows({"a": returns_frame, "b": returns_frame}, lookback=3, horizon=1)


def test_misaligned_targets(returns_frame):
    with pytest.raises(ValueError, match="expected the features' 120 dates"):
        make_windows(returns_frame, lookback=3, horizon=1, targets=returns_frame.iloc[1:])


def test_misaligned_channels(returns_frame):
    with pytest.raises(ValueError, match="channel 'b': expected the same dates"):
        make_windows(
            {"a": returns_frame, "b": returns_frame.iloc[:-1]},
            lookback=3,
            horizon=1,
            targets=returns_frame,
        )


def test_too_short(returns_frame):
    with pytest.raises(
        ValueError, match="at least lookback \\+ gap \\+ horizon = 125 dates, got 120"
    ):
        make_windows(returns_frame, lookback=100, horizon=20, gap=5)


def test_bad_lengths(returns_frame):
    with pytest.raises(ValueError, match="lookback: expected a positive integer, got 0"):
        make_windows(returns_frame, lookback=0, horizon=1)
    with pytest.raises(TypeError, match="horizon: expected an int"):
        make_windows(returns_frame, lookback=2, horizon=1.5)


def test_nan_in_features_rejected(returns_frame):
    bad = returns_frame.copy()
    bad.iloc[4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN in column 'a0'"):
        make_windows(bad, lookback=3, horizon=1)


def test_targets_must_be_returns_not_prices(prices_frame, returns_frame):
    with pytest.raises(
        ValueError, match=r"targets \(the features by default\): expected returns.*"
    ):
        make_windows(prices_frame, lookback=5, horizon=2)
    make_windows(prices_frame, lookback=5, horizon=0)  # inputs only: prices are fine features
    with pytest.raises(ValueError, match="target 'returns': expected returns.*prices_to_returns"):
        make_windows(returns_frame, lookback=5, horizon=2, targets=prices_frame)
    crash = returns_frame.copy()
    crash.iloc[30, 1] = -1.2
    with pytest.raises(ValueError, match="above -1.*'a1'"):
        make_windows(returns_frame, lookback=5, horizon=2, targets=crash)
    w = make_windows(returns_frame, lookback=5, horizon=2, targets=crash, returns_kind="log")
    assert w.y is not None
