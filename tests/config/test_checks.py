"""Value checks: what each accepts, what it rejects, and the hints it gives."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest

from deepalloc.config.checks import (
    boolean,
    choice,
    date,
    either,
    fraction,
    integer,
    number,
    offset,
    period_frequency,
    string,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2019-03-01", pd.Timestamp("2019-03-01")),
        (datetime.date(2019, 3, 1), pd.Timestamp("2019-03-01")),
        ("2019-03-01T12:30", pd.Timestamp("2019-03-01 12:30")),
    ],
)
def test_dates_accept_iso_strings_and_toml_dates(value, expected):
    assert date()(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "now", "2019", "01/03/2019", "2019-13-01", 2019])
def test_dates_reject_anything_else(value):
    with pytest.raises(ValueError, match="a date 'YYYY-MM-DD'"):
        date()(value)


@pytest.mark.parametrize("value", ["D", "W", "W-FRI", "M", "Q", "Y"])
def test_period_frequencies_that_pandas_accepts(value):
    assert period_frequency()(value) == value
    pd.DatetimeIndex(["2020-01-31"]).to_period(value)  # the independent check


@pytest.mark.parametrize(
    ("value", "hint"),
    [("monthly", "'M'"), ("ME", "'M'"), ("A", "'Y'"), ("2M", None), ("B", None), (3, None)],
)
def test_period_frequencies_rejected_with_a_hint_where_one_exists(value, hint):
    with pytest.raises(ValueError) as info:
        period_frequency()(value)
    assert getattr(info.value, "hint", "") == (f" (did you mean {hint}?)" if hint else "")


def test_other_checks():
    assert offset()("730D") == "730D"
    with pytest.raises(ValueError):
        offset()("two years")
    assert fraction()(0.25) == 0.25
    for bad in (1.0, 1, -0.1):
        with pytest.raises(ValueError):
            fraction()(bad)
    assert boolean()(False) is False
    with pytest.raises(ValueError):
        boolean()(0)
    with pytest.raises(ValueError):
        string()("  ")
    mixed = either(integer(1), period_frequency())
    assert mixed(5) == 5 and mixed("Q") == "Q"
    with pytest.raises(ValueError):
        mixed(0.5)
    assert mixed.expected.startswith("a positive integer or a pandas period frequency")


def test_choice_suggests_the_closest_option():
    with pytest.raises(ValueError) as info:
        choice(("walk_forward", "holdout"))("walkforward")
    assert info.value.hint == " (did you mean 'walk_forward'?)"


@pytest.mark.parametrize("value", [True, 1.5, "2", None])
def test_integers_are_ints_only(value):
    with pytest.raises(ValueError, match="an integer"):
        integer()(value)


def test_numbers_return_floats_and_respect_bounds():
    assert number(0, 1)(1) == 1.0 and isinstance(number(0, 1)(1), float)
    with pytest.raises(ValueError, match=r"a finite number >= 0 and <= 1"):
        number(0, 1)(1.5)
