import numpy as np
import pandas as pd
import pytest

from deepalloc.data import (
    align_frames,
    check_returns,
    clean_prices,
    prices_to_returns,
    validate_frame,
)


def test_prices_to_returns_simple_and_log(prices_frame):
    simple = prices_to_returns(prices_frame, "simple")
    log = prices_to_returns(prices_frame, "log")
    p = prices_frame.to_numpy()
    np.testing.assert_allclose(simple.to_numpy(), p[1:] / p[:-1] - 1, rtol=1e-14)
    np.testing.assert_allclose(log.to_numpy(), np.log(p[1:]) - np.log(p[:-1]), atol=1e-14)
    assert simple.index.equals(prices_frame.index[1:])


def test_not_datetime_index(prices_frame):
    with pytest.raises(TypeError, match="expected a DatetimeIndex, got RangeIndex"):
        validate_frame(prices_frame.reset_index(drop=True))


def test_unsorted_dates(prices_frame):
    shuffled = prices_frame.iloc[[0, 2, 1, 3]]
    with pytest.raises(ValueError, match="sorted in increasing order, got 2020-01-02 after"):
        prices_to_returns(shuffled)


def test_duplicate_dates(prices_frame):
    dup = pd.concat([prices_frame.iloc[:3], prices_frame.iloc[[2]]])
    with pytest.raises(ValueError, match="unique dates, got 1 duplicated"):
        validate_frame(dup)


def test_duplicate_columns(prices_frame):
    dup = prices_frame.set_axis(["a", "b", "a", "c"], axis=1)
    with pytest.raises(ValueError, match="duplicated \\['a'\\]"):
        validate_frame(dup)


def test_nan_names_column_and_date(prices_frame):
    bad = prices_frame.copy()
    bad.iloc[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN in column 'a2' on 2020-01-08"):
        prices_to_returns(bad)


def test_inf_is_rejected(returns_frame):
    bad = returns_frame.copy()
    bad.iloc[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinite in column 'a1'"):
        validate_frame(bad, "returns")


def test_non_positive_price(prices_frame):
    bad = prices_frame.copy()
    bad.iloc[7, 0] = 0.0
    with pytest.raises(ValueError, match="strictly positive prices, got 0.0 in column 'a0'"):
        prices_to_returns(bad)


def test_non_numeric(prices_frame):
    bad = prices_frame.copy()
    bad["a1"] = "x"
    with pytest.raises(TypeError, match="non-numeric \\['a1'\\]"):
        validate_frame(bad)


def test_clean_prices_forward_fills_and_never_back_fills(prices_frame):
    gappy = prices_frame.copy()
    gappy.iloc[10:12, 1] = np.nan
    filled = clean_prices(gappy)
    assert filled.iloc[11, 1] == prices_frame.iloc[9, 1]
    late = prices_frame.copy()
    late.iloc[:5, 3] = np.nan
    with pytest.raises(ValueError, match="start on .* got 'a3' starting on 2020-01-08"):
        clean_prices(late)
    dropped = clean_prices(late, leading="drop")
    assert dropped.index[0] == prices_frame.index[5]
    np.testing.assert_array_equal(dropped.to_numpy(), prices_frame.iloc[5:].to_numpy())


def test_clean_prices_limit(prices_frame):
    gappy = prices_frame.copy()
    gappy.iloc[10:14, 0] = np.nan
    with pytest.raises(ValueError, match="gaps of at most 2 dates.*'a0'"):
        clean_prices(gappy, ffill_limit=2)
    assert clean_prices(gappy, ffill_limit=4).notna().all().all()


def test_align_frames_raise_and_inner(returns_frame):
    other = returns_frame.iloc[1:, :3]
    with pytest.raises(ValueError, match="channel 'b': expected the same dates"):
        align_frames({"a": returns_frame, "b": other})
    with pytest.raises(ValueError, match="missing \\['a3'\\]"):
        align_frames({"a": returns_frame.iloc[1:], "b": other})
    out = align_frames({"a": returns_frame, "b": other}, how="inner")
    assert list(out["a"].columns) == ["a0", "a1", "a2"]
    assert out["a"].index.equals(other.index)


def test_check_returns_rejects_prices_and_names_the_columns(prices_frame, returns_frame):
    check_returns(returns_frame)
    check_returns(prices_to_returns(prices_frame))
    with pytest.raises(ValueError, match=r"returns: expected returns, got 4 column\(s\) that look"):
        check_returns(prices_frame)
    mixed = returns_frame.assign(a2=prices_frame["a2"])
    with pytest.raises(ValueError, match=r"\['a2'\].*prices_to_returns"):
        check_returns(mixed, "returns")
    # a cash-like asset (every return positive but small) is returns, not prices
    check_returns(returns_frame.assign(a3=1e-4))


def test_check_returns_rejects_a_loss_beyond_minus_100_percent(returns_frame):
    bad = returns_frame.copy()
    bad.iloc[4, 2] = -1.5
    with pytest.raises(ValueError, match="above -1 .*got -1.5 for 'a2' on 2020-01-07"):
        check_returns(bad)
    bad.iloc[4, 2] = -1.0  # a total loss leaves nothing to hold
    with pytest.raises(ValueError, match="above -1"):
        check_returns(bad)
    check_returns(bad, kind="log")  # a log return of -1 is a 63% loss
    with pytest.raises(ValueError, match="kind: expected one of"):
        check_returns(returns_frame, kind="percent")


def test_prices_to_returns_needs_two_dates(prices_frame):
    with pytest.raises(ValueError, match="prices: expected at least two dates"):
        prices_to_returns(prices_frame.iloc[:1])
