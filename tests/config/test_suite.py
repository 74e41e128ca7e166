"""build_suite: what depends on the data is checked before anything trains."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from deepalloc.config import ConfigError, build_suite, load_suite
from deepalloc.datasets import load_factor_etfs
from deepalloc.evaluation import BaselineStrategy, NetworkStrategy


def _write_toml(path, config):
    def value(v):
        if isinstance(v, bool):
            return str(v).lower()
        return f'"{v}"' if isinstance(v, str) else repr(v)

    lines = []
    for section, body in config.items():
        for table in body if isinstance(body, list) else [body]:
            lines.append(f"[[{section}]]" if isinstance(body, list) else f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


def _prices_with_a_gap(tmp_path):
    prices = load_factor_etfs()
    prices.iloc[300, 2] = np.nan
    prices.to_csv(tmp_path / "gap.csv")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c, p: c["data"].update(start="2030-01-01"),
            r"\[data\]\.start: expected a range holding at least two dates of the data "
            r"\(2014-01-02 to 2022-12-28\), got 0 from 2030-01-01 to the last date",
        ),
        (
            lambda c, p: c["data"].update(path="missing.csv"),
            r"\[data\]\.path: expected an existing file, got 'missing.csv'",
        ),
        (
            lambda c, p: c["data"].update(path="."),
            r"\[data\]\.path: expected a file, got '\.', which is a folder",
        ),
        (
            lambda c, p: (p / "empty.csv").write_text("") or c["data"].update(path="empty.csv"),
            r"\[data\]\.path: .*empty\.csv: expected a date column and one column per asset, got an "
            r"empty file",
        ),
        (
            lambda c, p: _prices_with_a_gap(p) or c["data"].update(path="gap.csv"),
            r"\[data\]\.path: .*gap\.csv: expected finite values, got 1 missing",
        ),
        (
            lambda c, p: c["windows"].update(lookback=5000),
            r"\[windows\]\.lookback: expected lookback \+ gap \+ horizon = 5020 at most the 1005 "
            r"return dates of the data \(2019-01-03 to 2022-12-28\)",
        ),
        (
            lambda c, p: c["split"].update(initial_train="2030-01-01"),
            r"\[split\]\.initial_train: expected a date up to the last decision date 2022-11-29",
        ),
        (
            lambda c, p: c["split"].update(initial_train="2019-06-01"),
            r"\[split\]: walk_forward_folds: expected training samples before the test block",
        ),
        (
            lambda c, p: c.update(split={"scheme": "holdout", "test": 0.99}),
            r"\[split\]: holdout_split: expected room for train",
        ),
        (
            lambda c, p: c["networks"][1].update(max_weight=0.1),
            r"\[\[networks\]\]\[1\]\.max_weight: expected max_weight x assets >= 1 so that weights "
            r"can sum to one, got 0\.1 x 5 assets = 0\.5 \(use at least 0\.2\)",
        ),
        (
            lambda c, p: c["networks"][0].update(max_weight=0.19),
            r"\[\[networks\]\]\[0\]\.max_weight: expected max_weight x assets >= 1",
        ),
        (
            lambda c, p: c["backtest"].update(lag=600),
            r"\[backtest\]\.lag: expected at most the 500 dates after the first test decision "
            r"\(2021-01-04\), got 600",
        ),
        (
            lambda c, p: c["windows"].update(lookback=3),
            r"\[\[baselines\]\]\[1\]: expected a strategy that runs on windows of 1 channel\(s\), 5 "
            r"assets and lookback 3, got: .*singular",
        ),
        (
            lambda c, p: (p / "taken").write_text("") or c["output"].update(path="taken/report"),
            r"\[output\]\.path: expected a folder for the report, got .*report', but .*taken' is "
            r"a file",
        ),
    ],
)
def test_data_dependent_errors_name_the_file_section_and_key(config, tmp_path, edit, message):
    edit(config, tmp_path)
    _write_toml(tmp_path / "suite.toml", config)
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(tmp_path / "suite.toml")
    assert str(info.value).startswith(f"{tmp_path / 'suite.toml'} [")
    assert info.value.source == str(tmp_path / "suite.toml")


def test_source_is_named_for_a_dict_config_too(config, tmp_path):
    config["data"]["start"] = "yesterday"
    with pytest.raises(ConfigError, match=r"^my\.toml \[data\]\.start: expected a date"):
        build_suite(config, base=tmp_path, source="my.toml")


def test_invalid_toml_names_the_file(tmp_path):
    (tmp_path / "bad.toml").write_text("[data\npath = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: expected valid TOML, got"):
        load_suite(tmp_path / "bad.toml")


def test_suite_follows_the_config(config, tmp_path):
    config["backtest"].update(costs_bps=7.5, rebalance="Q", lag=1)
    config["output"].update(seed=3, n_jobs=2, path="out")
    config["training"].update(lr=0.01, patience=2)
    config["networks"][1].update(lr=0.5, epochs=3, loss="sortino")
    suite = build_suite(config, base=tmp_path)
    assert (suite.costs_bps, suite.rebalance, suite.lag) == (7.5, "Q", 1)
    assert (suite.seed, suite.n_jobs, suite.output) == (3, 2, tmp_path / "out")
    assert list(suite.returns.columns) == list(load_factor_etfs().columns)
    assert suite.returns.index[0] > np.datetime64("2019-01-01")
    first, second = suite.strategies[:2]
    assert isinstance(first, NetworkStrategy) and isinstance(second, NetworkStrategy)
    assert first.fit_options["optimizer"].keywords == {"lr": 0.01}  # from [training]
    assert second.fit_options["optimizer"].keywords == {"lr": 0.5}  # its own
    assert first.fit_options["early_stopping"].patience == 2
    assert (first.fit_options["epochs"], second.fit_options["epochs"]) == (1, 3)
    assert type(second.loss).__name__ == "SortinoLoss"
    assert [s.name for s in suite.strategies[2:]] == ["inverse_volatility", "minimum_variance"]
    assert all(isinstance(s, BaselineStrategy) for s in suite.strategies[2:])
    assert suite.folds[0].test[0] == suite.windows.timestamps.searchsorted(
        np.datetime64("2021-01-01")
    )


def test_building_leaves_the_global_generator_alone(config, tmp_path):
    before = torch.get_rng_state()
    build_suite(config, base=tmp_path)
    assert torch.equal(before, torch.get_rng_state())


def test_example_config_is_valid():
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "config.toml"
    suite = load_suite(example, output="unused")
    assert {s.name for s in suite.strategies} == {
        "lstm_softmax",
        "dense_markowitz",
        "inverse_volatility",
        "risk_parity",
    }


def test_trading_aware_training_from_the_config(config, tmp_path):
    from deepalloc.evaluation import SequentialTraining

    config["training"].update(costs_bps=25.0, holdings_aware=True, run_length=6)
    config["networks"][1].update(holdings_aware=False, costs_bps=0.0)  # plain, by override
    suite = build_suite(config, base=tmp_path)
    aware, plain = suite.strategies[:2]
    assert aware.sequential == SequentialTraining(run_length=6, costs_bps=25.0, batch_size=10)
    assert plain.sequential is None
    with torch.random.fork_rng():
        assert aware.build(1, 5, 60).holdings_aware and not plain.build(1, 5, 60).holdings_aware
    config["training"].update(stride=30)  # longer than the horizon of 20
    with pytest.raises(ConfigError, match=r"\[\[networks\]\]\[0\]\.stride: expected a stride"):
        build_suite(config, base=tmp_path)
    config["training"].update(stride=20, run_length=400)
    with pytest.raises(ConfigError, match=r"\.run_length: expected runs of run_length x stride"):
        build_suite(config, base=tmp_path)
