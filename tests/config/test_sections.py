"""The suite's sections and keys: every mistake found without reading any data."""

from __future__ import annotations

import math

import pytest

from deepalloc.config import SUITE_SCHEMA, ConfigError, build_suite, validate_config

SECTIONS = "[data], [windows], [split], [backtest], [training], [[networks]], [[baselines]], [output], [search], [cluster]"


def _rename(config, old, new):
    config[new] = config.pop(old)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: _rename(c, "backtest", "backtst"), r"\[backtst\]: unknown section \(did you "),
        (lambda c: _rename(c, "backtest", "backtests"), r"\[backtests\]: unknown section \(did "),
        (lambda c: _rename(c, "training", "trainig"), r"\[trainig\]: unknown section \(did you"),
        (lambda c: _rename(c, "networks", "network"), r"\[network\]: unknown section \(did you"),
        (lambda c: c.update(extra={"x": 1}), r"\[extra\]: unknown section; expected sections"),
    ],
)
def test_unknown_sections_are_errors_that_list_the_valid_ones(config, tmp_path, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message) as info:
        build_suite(config, base=tmp_path)
    assert str(info.value).endswith(f"expected sections {SECTIONS}")


def test_suggestions_name_the_closest_section(config):
    _rename(config, "networks", "network")
    with pytest.raises(ConfigError, match=r"did you mean 'networks'\?"):
        validate_config(config)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["windows"].update(lookback="sixty"),
            r"config \[windows\]\.lookback: expected a positive integer, got 'sixty'$",
        ),
        (
            lambda c: c["windows"].update(lookbak=5),
            r"\[windows\]\.lookbak: unknown key \(did you mean 'lookback'\?\); expected one of",
        ),
        (lambda c: c.pop("windows"), r"config \[windows\]: expected this section"),
        (lambda c: c["windows"].update(gap=-1), r"\[windows\]\.gap: expected a non-negative"),
        (
            lambda c: c["data"].update(start="yesterday"),
            r"\[data\]\.start: expected a date 'YYYY-MM-DD', got 'yesterday'$",
        ),
        (lambda c: c["data"].update(end="2019-02-30"), r"\[data\]\.end: expected a date"),
        (
            lambda c: c["data"].update(end="2018-12-31"),
            r"\[data\]\.end: expected a date after start \(2019-01-01\), got 2018-12-31",
        ),
        (lambda c: c["data"].update(dataset="sp500"), r"\[data\]: expected exactly one of path"),
        (lambda c: c["data"].pop("path"), r"\[data\]: expected exactly one of path .*got neither"),
        (lambda c: c["data"].update(kind="levels"), r"\[data\]\.kind: expected one of"),
        (
            lambda c: c.update(data={"dataset": "sp500", "kind": "returns"}),
            r"\[data\]\.kind: expected 'prices' for a bundled dataset \(they hold prices\)",
        ),
        (
            lambda c: c["backtest"].update(costs_bps=-5),
            r"\[backtest\]\.costs_bps: expected a non-negative number, got -5$",
        ),
        (lambda c: c["backtest"].update(costs_bps=math.nan), r"\[backtest\]\.costs_bps: .*got nan"),
        (lambda c: c["backtest"].update(costs_bps=math.inf), r"\[backtest\]\.costs_bps: .*got inf"),
        (lambda c: c["backtest"].update(costs_bps="ten"), r"\[backtest\]\.costs_bps: expected"),
        (
            lambda c: c["backtest"].update(rebalance="monthly"),
            r"\[backtest\]\.rebalance: expected a pandas period frequency .*got 'monthly' "
            r"\(did you mean 'M'\?\)",
        ),
        (lambda c: c["backtest"].update(rebalance="2M"), r"\[backtest\]\.rebalance: expected"),
        (lambda c: c["backtest"].update(lag=-1), r"\[backtest\]\.lag: expected a non-negative"),
        (lambda c: c["split"].update(scheme="kfold"), r"\[split\]\.scheme: expected one of"),
        (
            lambda c: c["split"].update(test=0.2),
            r"\[split\]\.test: not a setting of scheme = 'walk_forward'",
        ),
        (
            lambda c: c["split"].update(scheme="holdout"),
            r"\[split\]\.test_size: not a setting of scheme = 'holdout'",
        ),
        (lambda c: c["split"].pop("test_size"), r"\[split\]\.test_size: expected .* got none"),
        (
            lambda c: c["split"].update(test_size="yearly"),
            r"\[split\]\.test_size: expected a positive integer or a pandas period frequency",
        ),
        (lambda c: c["split"].update(initial_train="soon"), r"\[split\]\.initial_train: expected"),
        (lambda c: c["split"].update(val_size=1.5), r"\[split\]\.val_size: expected"),
        (lambda c: c["split"].update(train_size="3 years"), r"\[split\]\.train_size: expected"),
        (
            lambda c: c["training"].update(lr=-1.0),
            r"\[training\]\.lr: expected a positive number, got -1.0",
        ),
        (lambda c: c["training"].update(loss="profit"), r"\[training\]\.loss: expected one of"),
        (
            lambda c: c["networks"][0].update(type="resnet"),
            r"\[\[networks\]\]\[0\]\.type: expected one of",
        ),
        (lambda c: c["networks"][1].update(allocator="magic"), r"\[\[networks\]\]\[1\]\.allocator"),
        (lambda c: c["networks"][1].update(max_weight=1.5), r"\[\[networks\]\]\[1\]\.max_weight"),
        (lambda c: c["networks"][0].update(epochs=0), r"\[\[networks\]\]\[0\]\.epochs: expected"),
        (lambda c: c["networks"][0].pop("name"), r"\[\[networks\]\]\[0\]\.name: expected"),
        (
            lambda c: c["networks"].append(
                {"name": "x", "type": "lstm_markowitz", "allocator": "softmax"}
            ),
            r"\[\[networks\]\]\[2\]\.allocator: expected 'markowitz'",
        ),
        (
            lambda c: c["networks"].append(
                {"name": "x", "type": "lstm", "allocator": "tanh", "max_weight": 0.5}
            ),
            r"\[\[networks\]\]\[2\]\.max_weight: expected no cap with allocator 'tanh'",
        ),
        (
            lambda c: c["baselines"].append({"name": "lstm_softmax", "type": "risk_parity"}),
            r"\[\[baselines\]\]\[2\]\.name: expected a name no other strategy has, got "
            r"'lstm_softmax' \(also \[\[networks\]\]\[0\]\.name\)",
        ),
        (
            lambda c: c["baselines"].append({"type": "minimum_variance"}),
            r"\[\[baselines\]\]\[2\]\.name: expected a name no other strategy has",
        ),
        (
            lambda c: c["networks"][0].update(name="equal_weight"),
            r"\[\[networks\]\]\[0\]\.name: expected another name: 'equal_weight' is",
        ),
        (
            lambda c: c.update(networks=[], baselines=[]),
            r"expected at least one \[\[networks\]\] or \[\[baselines\]\] entry",
        ),
        (lambda c: c["output"].update(n_jobs=0), r"\[output\]\.n_jobs: expected a positive"),
        (lambda c: c["output"].update(seed=1.5), r"\[output\]\.seed: expected a non-negative"),
    ],
)
def test_config_errors_name_the_section_and_key(config, tmp_path, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        validate_config(config)
    with pytest.raises(ConfigError, match=message):
        build_suite(config, base=tmp_path)


def test_a_valid_config_gets_every_default(config):
    del config["backtest"]
    spec = validate_config(config)
    assert spec["backtest"] == {"costs_bps": 0.0, "rebalance": None, "lag": 0, "leverage": 1.0}
    assert spec["networks"][0]["epochs"] is None  # inherits [training].epochs
    assert spec["baselines"][0]["name"] == "inverse_volatility"
    assert {s.name for s in SUITE_SCHEMA} == set(spec)


def test_toml_dates_are_accepted(config, tmp_path):
    import tomllib

    config["data"]["start"] = tomllib.loads("d = 2019-01-01")["d"]
    assert validate_config(config)["data"]["start"].isoformat().startswith("2019-01-01")
    build_suite(config, base=tmp_path)
