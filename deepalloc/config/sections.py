"""The sections and keys of a suite configuration (``deepalloc run CONFIG.toml``).

:data:`SUITE_SCHEMA` is the whole file format in one table: each section with its
keys, their checks, defaults and meaning. :func:`validate_config` checks a parsed file
against it (types, ranges, choices, dates, frequencies, rules across keys and across
sections) without reading any data; :func:`deepalloc.config.build_suite` then checks
what depends on the data. To add a key or a section, add its entry here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from deepalloc.config.registry import (
    ALLOCATORS,
    BASELINES,
    LOSSES,
    MEAN_VARIANCE_NETWORKS,
    NETWORKS,
    UNCAPPED_ALLOCATORS,
    default_allocator,
)
from deepalloc.config.schema import REQUIRED, ConfigError, Key, Section, validate
from deepalloc.config.search import CLUSTER_SECTION, SEARCH_SECTION, check_search

EQUAL_WEIGHT = "equal_weight"
"""The benchmark every suite compares with (added when absent)."""


def _data_rule(data: dict[str, Any], where: str) -> None:
    if (data["path"] is None) == (data["dataset"] is None):
        given = "both" if data["path"] is not None else "neither"
        raise ConfigError(
            f"expected exactly one of path (a file) or dataset (bundled data), got {given}",
            where=where,
        )
    if data["dataset"] is not None and data["kind"] != "prices":
        raise ConfigError(
            f"expected 'prices' for a bundled dataset (they hold prices), got {data['kind']!r}",
            where=f"{where}.kind",
        )
    if data["start"] is not None and data["end"] is not None and data["start"] >= data["end"]:
        raise ConfigError(
            f"expected a date after start ({data['start'].date()}), got {data['end'].date()}",
            where=f"{where}.end",
        )


_WALK_FORWARD_KEYS = ("test_size", "initial_train", "train_size", "val_size")
_HOLDOUT_KEYS = ("test", "val")


def _split_rule(split: dict[str, Any], where: str) -> None:
    scheme = split["scheme"]
    own, other = (
        (_WALK_FORWARD_KEYS, _HOLDOUT_KEYS)
        if scheme == "walk_forward"
        else (_HOLDOUT_KEYS, _WALK_FORWARD_KEYS)
    )
    for key in other:
        if split[key] is not None:
            raise ConfigError(
                f"not a setting of scheme = {scheme!r} (its keys: {list(own)}); remove it",
                where=f"{where}.{key}",
            )
    if scheme == "walk_forward":
        for key in ("test_size", "initial_train"):
            if split[key] is None:
                expected = SPLIT_KEYS[key].check.expected
                raise ConfigError(
                    f"expected {expected} for scheme = 'walk_forward', got none",
                    where=f"{where}.{key}",
                )


def _network_rule(net: dict[str, Any], where: str) -> None:
    kind, allocator = net["type"], net["allocator"]
    if kind in MEAN_VARIANCE_NETWORKS and allocator not in (None, "markowitz"):
        raise ConfigError(
            f"expected 'markowitz' for type {kind!r}, got {allocator!r}",
            where=f"{where}.allocator",
        )
    allocator = allocator or default_allocator(kind)
    if allocator in UNCAPPED_ALLOCATORS and net["max_weight"] is not None:
        raise ConfigError(
            f"expected no cap with allocator {allocator!r} (it has none), got "
            f"{net['max_weight']!r}; use softmax, sparsemax or markowitz for a cap",
            where=f"{where}.max_weight",
        )


SPLIT_KEYS: dict[str, Key] = {
    "scheme": Key(choice(("walk_forward", "holdout")), REQUIRED, "how samples are split"),
    "test_size": Key(
        either(integer(1), period_frequency()),
        None,
        "walk_forward: test block, samples or a calendar frequency ('Y' retrains yearly)",
    ),
    "initial_train": Key(
        either(integer(1), fraction(), date()),
        None,
        "walk_forward: samples, a fraction, or the date before the first test block",
    ),
    "train_size": Key(
        either(integer(1), offset()),
        None,
        "walk_forward: rolling training window, samples or a span ('730D'); none expands",
    ),
    "val_size": Key(
        either(integer(0), fraction()),
        None,
        "walk_forward: purged validation for early stopping, samples or a fraction; default 0",
    ),
    "test": Key(
        either(integer(1), fraction(), date()),
        None,
        "holdout: test block, samples, a fraction or its first date; default 0.2",
    ),
    "val": Key(
        either(integer(0), fraction()),
        None,
        "holdout: validation block before it, samples or a fraction; default 0.1",
    ),
}

TRAINING_KEYS: dict[str, Key] = {
    "epochs": Key(integer(1), 15, "passes over the training samples at most"),
    "lr": Key(number(0, exclusive_minimum=True), 3e-3, "Adam learning rate"),
    "patience": Key(integer(1), 4, "epochs without validation improvement before stopping"),
    "batch_size": Key(integer(1), 64, "samples per gradient step"),
    "loss": Key(choice(LOSSES), "sharpe", "training objective"),
    "costs_bps": Key(number(0), 0.0, "trading costs charged in training (sequential, after costs)"),
    "holdings_aware": Key(boolean(), False, "the network sees what it holds (sequential training)"),
    "run_length": Key(integer(1), 12, "decisions per sequential training run"),
    "stride": Key(integer(1), None, "samples between sequential decisions (default: horizon)"),
    "truncate_every": Key(integer(1), None, "backpropagate through this many decisions at most"),
}

SUITE_SCHEMA: tuple[Section, ...] = (
    Section(
        "data",
        {
            "path": Key(string(), None, "CSV or Parquet file, relative to the config file"),
            "dataset": Key(choice(("sp500", "factor_etfs")), None, "bundled data instead"),
            "kind": Key(choice(("prices", "returns")), "prices", "what the file holds"),
            "start": Key(date(), None, "first date used"),
            "end": Key(date(), None, "last date used"),
        },
        "the market history: a file or a bundled dataset",
        required=True,
        rule=_data_rule,
    ),
    Section(
        "windows",
        {
            "lookback": Key(integer(1), REQUIRED, "dates in each input window"),
            "horizon": Key(integer(1), REQUIRED, "dates in each target window"),
            "gap": Key(integer(0), 0, "dates between a decision and its target"),
        },
        "how the history is cut into samples",
        required=True,
    ),
    Section(
        "split",
        SPLIT_KEYS,
        "training, validation and test blocks (purged)",
        required=True,
        rule=_split_rule,
    ),
    Section(
        "backtest",
        {
            "costs_bps": Key(number(0), 0.0, "costs in basis points of traded value"),
            "rebalance": Key(period_frequency(), None, "trade at period ends; none: every date"),
            "lag": Key(integer(0), 0, "dates between a decision and its trade"),
            "leverage": Key(number(1), 1.0, "largest gross exposure sum |w| allowed"),
        },
        "how every strategy's weights are traded",
    ),
    Section(
        "training",
        {
            **TRAINING_KEYS,
            "seeds": Key(integer(1), 1, "training runs of every network per fold (+ ensemble)"),
        },
        "defaults for every network",
    ),
    Section(
        "networks",
        {
            "name": Key(string(), REQUIRED, "label in tables and the report"),
            "type": Key(choice(NETWORKS), REQUIRED, "architecture"),
            "allocator": Key(
                choice(ALLOCATORS), None, "softmax (markowitz for lstm_markowitz, tcn_markowitz)"
            ),
            "max_weight": Key(number(0, 1, exclusive_minimum=True), None, "cap on each weight"),
            "hidden_size": Key(integer(1), 32, "width of the hidden layers"),
            **{
                k: Key(key.check, None, f"overrides [training].{k}")
                for k, key in TRAINING_KEYS.items()
            },
        },
        "trained strategies, one table each",
        array=True,
        rule=_network_rule,
    ),
    Section(
        "baselines",
        {
            "name": Key(string(), None, "label (default: the type)"),
            "type": Key(choice(BASELINES), REQUIRED, "rule"),
        },
        "rules that are not trained, one table each",
        array=True,
    ),
    Section(
        "output",
        {
            "path": Key(string(), "deepalloc-report", "report folder, relative to the config"),
            "seed": Key(integer(0), 0, "seed of every fold's training"),
            "n_jobs": Key(integer(1), 1, "folds run in parallel"),
            "cache": Key(boolean(), False, "keep finished folds in <path>/cache to resume"),
        },
        "where the report goes and how the run is seeded",
    ),
    SEARCH_SECTION,
    CLUSTER_SECTION,
)


def _strategy_names(spec: Mapping[str, Any]) -> None:
    seen: dict[str, str] = {}
    entries = [("networks", i, net["name"]) for i, net in enumerate(spec["networks"])]
    entries += [
        ("baselines", i, base["name"] or base["type"]) for i, base in enumerate(spec["baselines"])
    ]
    for section, i, name in entries:
        where = f"[[{section}]][{i}].name"
        if name in seen:
            raise ConfigError(
                f"expected a name no other strategy has, got {name!r} (also {seen[name]})",
                where=where,
            )
        seen[name] = where
        is_equal_weight = section == "baselines" and spec[section][i]["type"] == EQUAL_WEIGHT
        if name == EQUAL_WEIGHT and not is_equal_weight:
            raise ConfigError(
                f"expected another name: {EQUAL_WEIGHT!r} is the equal-weight benchmark's",
                where=where,
            )
    if not entries:
        raise ConfigError("expected at least one [[networks]] or [[baselines]] entry, got none")


def validate_config(config: Any) -> dict[str, Any]:
    """Check a parsed suite configuration without reading data.

    Parameters
    ----------
    config
        The parsed TOML document (or a dict of the same shape).

    Returns
    -------
    dict
        Section -> key -> value, every default filled in (see :data:`SUITE_SCHEMA`);
        dates are Timestamps, array sections are lists; ``"search"`` is ``None`` when
        the file has no ``[search]`` (its domains are
        :mod:`deepalloc.evaluation.tuning.space` objects).

    Raises
    ------
    ConfigError
        Naming the section and key: an unknown section or key (with the valid ones),
        a missing required one, a value of the wrong type or range, keys that do not
        go together, or strategies sharing a name.
    """
    spec = validate(config, SUITE_SCHEMA)
    _strategy_names(spec)
    if "search" in config:
        check_search(spec)
    else:
        spec["search"] = None
    return spec


__all__ = ["EQUAL_WEIGHT", "SUITE_SCHEMA", "validate_config"]
