"""Value checks for configuration keys: each accepts a value or says what was expected.

A :class:`Check` pairs a description of valid values (``"a positive integer"``) with a
function that returns the value to use or raises :class:`Invalid`; the schema
(:mod:`deepalloc.config.schema`) turns that into a message naming the section and key.
"""

from __future__ import annotations

import datetime
import difflib
import math
import re
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd


class Invalid(ValueError):
    """Raised by a value check; the schema turns it into a ``ConfigError``.

    Attributes
    ----------
    expected
        What a valid value is.
    hint
        Text added after the offending value, such as ``" (did you mean 'M'?)"``.
    """

    def __init__(self, expected: str, hint: str = ""):
        super().__init__(expected)
        self.expected = expected
        self.hint = hint


@dataclass(frozen=True)
class Check:
    """A value check: ``convert(value)`` returns the normalised value or raises.

    Attributes
    ----------
    expected
        What a valid value is, for messages (``"a positive integer"``).
    convert
        Returns the value to use; raises :class:`Invalid` (with an optional hint),
        ``ValueError`` or ``TypeError`` when the value does not fit.
    """

    expected: str
    convert: Callable[[Any], Any]

    def __call__(self, value: Any) -> Any:
        return self.convert(value)


def suggest(name: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option to ``name``, or ``""``."""
    close = difflib.get_close_matches(str(name), list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(minimum: int | None = None) -> Check:
    """An integer (not a bool), at least ``minimum``."""
    expected = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}"
    )

    def convert(value: Any) -> int:
        if not _is_int(value) or (minimum is not None and value < minimum):
            raise Invalid(expected)
        return int(value)

    return Check(expected, convert)


def number(
    minimum: float | None = None, maximum: float | None = None, *, exclusive_minimum: bool = False
) -> Check:
    """A finite int or float (not a bool) in ``[minimum, maximum]``; returned as float."""
    if minimum == 0 and maximum is None:
        expected = "a positive number" if exclusive_minimum else "a non-negative number"
    else:
        low = "any" if minimum is None else f"{'>' if exclusive_minimum else '>='} {minimum:g}"
        expected = f"a finite number {low}" + ("" if maximum is None else f" and <= {maximum:g}")

    def convert(value: Any) -> float:
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            raise Invalid(expected)
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            raise Invalid(expected)
        if maximum is not None and value > maximum:
            raise Invalid(expected)
        return float(value)

    return Check(expected, convert)


def fraction() -> Check:
    """A float in [0, 1) (a share of the samples)."""

    def convert(value: Any) -> float:
        if not isinstance(value, float) or not 0.0 <= value < 1.0:
            raise Invalid("a fraction in [0, 1)")
        return value

    return Check("a fraction in [0, 1)", convert)


def boolean() -> Check:
    """``true`` or ``false``."""

    def convert(value: Any) -> bool:
        if not isinstance(value, bool):
            raise Invalid("true or false")
        return value

    return Check("true or false", convert)


def string() -> Check:
    """A non-empty string."""

    def convert(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise Invalid("a non-empty string")
        return value

    return Check("a non-empty string", convert)


def choice(options: Iterable[str]) -> Check:
    """One of ``options`` (a misspelling gets a suggestion)."""
    names = sorted(options)
    expected = f"one of {names}"

    def convert(value: Any) -> str:
        if value not in names:
            raise Invalid(expected, suggest(value, names) if isinstance(value, str) else "")
        return str(value)

    return Check(expected, convert)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T][0-9:.]+)?")


def date() -> Check:
    """A date: a TOML date or a string ``'YYYY-MM-DD'``; returned as a Timestamp."""
    expected = "a date 'YYYY-MM-DD'"

    def convert(value: Any) -> pd.Timestamp:
        if isinstance(value, datetime.date):
            return pd.Timestamp(value)
        if not isinstance(value, str) or not _ISO_DATE.fullmatch(value.strip()):
            raise Invalid(expected)
        try:
            return pd.Timestamp(value.strip())
        except ValueError as err:
            raise Invalid(expected, f" ({err})") from err

    return Check(expected, convert)


_FREQUENCY_WORDS = {
    "daily": "D",
    "weekly": "W",
    "monthly": "M",
    "quarterly": "Q",
    "yearly": "Y",
    "annual": "Y",
    "annually": "Y",
}


def period_frequency() -> Check:
    """A pandas period frequency without a multiple: ``'W'``, ``'M'``, ``'Q'``, ``'Y'``, ..."""
    expected = "a pandas period frequency such as 'D', 'W', 'M', 'Q' or 'Y'"

    def convert(value: Any) -> str:
        if isinstance(value, str) and value.lower() in _FREQUENCY_WORDS:
            raise Invalid(expected, f" (did you mean {_FREQUENCY_WORDS[value.lower()]!r}?)")
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z][A-Za-z-]*", value):
            raise Invalid(expected)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                pd.DatetimeIndex(["2020-01-31"]).to_period(value)
        except (ValueError, TypeError, KeyError, Warning) as err:
            close = re.search(r"[Dd]id you mean '?([\w-]+)'?\?|please use '([\w-]+)'", str(err))
            hint = f" (did you mean {(close[1] or close[2])!r}?)" if close else ""
            raise Invalid(expected, hint) from err
        return value

    return Check(expected, convert)


def offset() -> Check:
    """A pandas offset (a calendar span such as ``'730D'`` or ``'104W'``)."""
    expected = "a pandas offset such as '730D' or '104W'"

    def convert(value: Any) -> str:
        if not isinstance(value, str):
            raise Invalid(expected)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                pd.tseries.frequencies.to_offset(value)
        except (ValueError, TypeError, Warning) as err:
            raise Invalid(expected) from err
        return value

    return Check(expected, convert)


def either(*checks: Check) -> Check:
    """The first of ``checks`` that accepts the value."""
    expected = " or ".join(c.expected for c in checks)

    def convert(value: Any) -> Any:
        for check in checks:
            try:
                return check(value)
            except (ValueError, TypeError):
                continue
        raise Invalid(expected)

    return Check(expected, convert)


__all__ = [
    "Check",
    "Invalid",
    "boolean",
    "choice",
    "date",
    "either",
    "fraction",
    "integer",
    "number",
    "offset",
    "period_frequency",
    "string",
    "suggest",
]
