"""The schema machinery on a small schema of its own: sections, keys, checks, messages."""

from __future__ import annotations

import math

import pytest

from deepalloc.config.checks import choice, integer, number, string
from deepalloc.config.schema import REQUIRED, ConfigError, Key, Section, describe, validate


def _no_overlap(values, where):
    if values["low"] is not None and values["low"] >= values["high"]:
        raise ConfigError("expected low < high", where=f"{where}.low")


SCHEMA = (
    Section(
        "model",
        {
            "size": Key(integer(1), REQUIRED, "width"),
            "rate": Key(number(0, exclusive_minimum=True), 0.1, "step"),
            "low": Key(number(), None, "lower bound"),
            "high": Key(number(), 1.0, "upper bound"),
        },
        "the model",
        required=True,
        rule=_no_overlap,
    ),
    Section(
        "items",
        {"name": Key(string(), REQUIRED), "kind": Key(choice(("alpha", "beta")), "alpha")},
        "things",
        array=True,
    ),
    Section("space", {}, "free names, each a number", other=number()),
)


def test_defaults_are_filled_and_absent_sections_are_empty():
    out = validate({"model": {"size": 3}}, SCHEMA)
    assert out == {
        "model": {"size": 3, "rate": 0.1, "low": None, "high": 1.0},
        "items": [],
        "space": {},
    }


def test_unknown_section_lists_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(ConfigError) as info:
        validate({"model": {"size": 3}, "modle": {}}, SCHEMA)
    assert str(info.value) == (
        "config [modle]: unknown section (did you mean 'model'?); expected sections "
        "[model], [[items]], [space]"
    )
    assert info.value.where == "[modle]"


def test_unknown_key_lists_the_valid_ones_and_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"\[model\]\.szie: unknown key \(did you mean 'size'"):
        validate({"model": {"szie": 3}}, SCHEMA)


def test_missing_required_section_and_key_are_named():
    with pytest.raises(ConfigError, match=r"config \[model\]: expected this section"):
        validate({}, SCHEMA)
    with pytest.raises(
        ConfigError, match=r"\[model\]\.size: expected a positive integer \(width\)"
    ):
        validate({"model": {}}, SCHEMA)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, r"\[model\]\.size: expected a positive integer, got True"),
        (2.0, r"\[model\]\.size: expected a positive integer, got 2.0"),
        (0, r"\[model\]\.size: expected a positive integer, got 0"),
        ("3", r"\[model\]\.size: expected a positive integer, got '3'"),
    ],
)
def test_values_of_the_wrong_type_or_range_are_named(value, message):
    with pytest.raises(ConfigError, match=message):
        validate({"model": {"size": value}}, SCHEMA)


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_numbers_must_be_finite_and_in_range(rate):
    with pytest.raises(ConfigError, match=r"\[model\]\.rate: expected a positive number"):
        validate({"model": {"size": 1, "rate": rate}}, SCHEMA)


def test_section_rule_sees_the_checked_values():
    with pytest.raises(ConfigError, match=r"\[model\]\.low: expected low < high"):
        validate({"model": {"size": 1, "low": 2}}, SCHEMA)


def test_array_and_table_confusions_are_named():
    with pytest.raises(ConfigError, match=r"\[\[items\]\]: expected an array of tables"):
        validate({"model": {"size": 1}, "items": {"name": "a"}}, SCHEMA)
    with pytest.raises(ConfigError, match=r"\[model\]: expected one table \[model\]"):
        validate({"model": [{"size": 1}]}, SCHEMA)


def test_array_entries_are_checked_one_by_one_with_their_index():
    config = {"model": {"size": 1}, "items": [{"name": "a"}, {"name": "b", "kind": "gamma"}]}
    with pytest.raises(
        ConfigError, match=r"\[\[items\]\]\[1\]\.kind: expected one of \['alpha', 'beta'\]"
    ):
        validate(config, SCHEMA)
    config["items"][1]["kind"] = "beta"
    assert validate(config, SCHEMA)["items"] == [
        {"name": "a", "kind": "alpha"},
        {"name": "b", "kind": "beta"},
    ]


def test_a_section_of_free_names_checks_each_value():
    assert validate({"model": {"size": 1}, "space": {"lr": 0.5}}, SCHEMA)["space"] == {"lr": 0.5}
    with pytest.raises(ConfigError, match=r"\[space\]\.lr: expected a finite number"):
        validate({"model": {"size": 1}, "space": {"lr": "fast"}}, SCHEMA)


def test_the_source_file_leads_the_message():
    err = ConfigError("expected x, got y", where="[a].b", source="suite.toml")
    assert str(err) == "suite.toml [a].b: expected x, got y"
    assert str(ConfigError("expected x, got y")) == "config: expected x, got y"


def test_describe_lists_every_section_and_key():
    text = describe(SCHEMA)
    for piece in ("[model]", "[[items]]", "[space]", "size: a positive integer; required"):
        assert piece in text
