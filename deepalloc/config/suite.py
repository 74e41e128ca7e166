"""Suite configurations: a TOML file (or dict) -> data, windows, folds, strategies.

Every value is checked where it is read and an error names its key, for example
``config [windows].lookback: expected a positive integer, got 'sixty'``. See
``examples/config.toml`` for a complete file; :data:`DEMO_CONFIG` is the demo's.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from deepalloc import allocators, baselines, losses, networks
from deepalloc.data import (
    Fold,
    Windows,
    holdout_split,
    make_windows,
    prices_to_returns,
    validate_frame,
    walk_forward_folds,
)
from deepalloc.datasets import load_factor_etfs, load_sp500, read_prices
from deepalloc.evaluation import BaselineStrategy, NetworkStrategy, Strategy
from deepalloc.training import EarlyStopping

DEMO_CONFIG: dict[str, Any] = {
    "data": {"dataset": "sp500", "kind": "prices", "start": "2012-01-01"},
    "windows": {"lookback": 60, "horizon": 20},
    "split": {
        "scheme": "walk_forward",
        "test_size": "Y",
        "initial_train": "2017-01-01",
        "train_size": 756,
        "val_size": 0.2,
    },
    "backtest": {"costs_bps": 10.0, "rebalance": "M"},
    "training": {"epochs": 15, "lr": 0.003, "patience": 4, "batch_size": 64, "loss": "sharpe"},
    "networks": [
        {"name": "lstm_softmax", "type": "lstm", "allocator": "softmax", "hidden_size": 16},
        {"name": "conv_markowitz", "type": "conv", "allocator": "markowitz", "max_weight": 0.2},
    ],
    "baselines": [
        {"name": "inverse_volatility", "type": "inverse_volatility"},
        {"name": "minimum_variance", "type": "minimum_variance"},
    ],
    "output": {"path": "deepalloc-report", "seed": 0, "n_jobs": 1},
}

LOSSES: dict[str, Callable[[], losses.Loss]] = {
    "sharpe": losses.SharpeLoss,
    "sortino": losses.SortinoLoss,
    "mean_return": losses.MeanReturnLoss,
    "cumulative_return": losses.CumulativeReturnLoss,
    "volatility": losses.VolatilityLoss,
    "max_drawdown": losses.MaxDrawdownLoss,
    "cvar": losses.CVaRLoss,
    "downside_risk": losses.DownsideRiskLoss,
}
BASELINES: dict[str, Callable[[], nn.Module]] = {
    "equal_weight": baselines.EqualWeight,
    "inverse_volatility": baselines.InverseVolatility,
    "minimum_variance": baselines.MinimumVariance,
    "maximum_sharpe": baselines.MaximumSharpe,
    "risk_parity": baselines.RiskParity,
    "hierarchical_risk_parity": baselines.HierarchicalRiskParity,
    "maximum_return": baselines.MaximumReturn,
}
NETWORKS = ("dense", "conv", "lstm", "gru", "stacked_lstm", "lstm_markowitz", "attention")
ALLOCATORS = ("softmax", "sparsemax", "tanh", "markowitz")
_NETWORK_KEYS = {
    "name",
    "type",
    "allocator",
    "max_weight",
    "loss",
    "hidden_size",
    "epochs",
    "lr",
    "patience",
    "batch_size",
}


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names its key."""


def _section(
    config: Mapping[str, Any], name: str, allowed: set[str], required: bool = True
) -> dict[str, Any]:
    if name not in config:
        if required:
            raise ConfigError(f"config [{name}]: expected this section, got none")
        return {}
    section = config[name]
    if not isinstance(section, Mapping):
        raise ConfigError(f"config [{name}]: expected a table, got {type(section).__name__}")
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"config [{name}].{unknown[0]}: unknown key (expected one of {sorted(allowed)})"
        )
    return dict(section)


def _get(
    section: Mapping[str, Any],
    where: str,
    key: str,
    kind: type | tuple[type, ...],
    default: Any = ...,
    positive: bool = False,
) -> Any:
    if key not in section:
        if default is ...:
            raise ConfigError(f"config {where}.{key}: expected a value, got none")
        return default
    value: Any = section[key]
    matches = isinstance(value, kind) and not isinstance(value, bool)
    if not matches:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"config {where}.{key}: expected {names}, got {value!r}")
    if positive and value <= 0:
        raise ConfigError(f"config {where}.{key}: expected a positive value, got {value!r}")
    return value


def _choice(
    section: Mapping[str, Any], where: str, key: str, choices: Any, default: Any = ...
) -> Any:
    value = _get(section, where, key, str, default)
    if value not in choices:
        raise ConfigError(f"config {where}.{key}: expected one of {sorted(choices)}, got {value!r}")
    return value


@dataclass
class Suite:
    """Everything :func:`deepalloc.evaluate.run_suite` needs, built from a config."""

    windows: Windows
    returns: pd.DataFrame
    folds: list[Fold]
    strategies: list[Strategy]
    costs_bps: float
    rebalance: str | None
    lag: int
    seed: int
    n_jobs: int
    output: Path


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config {path}: expected valid TOML, got {err}") from err


def _load_returns(config: Mapping[str, Any], base: Path) -> pd.DataFrame:
    data = _section(config, "data", {"path", "dataset", "kind", "start", "end"})
    kind = _choice(data, "[data]", "kind", ("prices", "returns"), "prices")
    if "dataset" in data:
        name = _choice(data, "[data]", "dataset", ("sp500", "factor_etfs"))
        frame = load_sp500() if name == "sp500" else load_factor_etfs()
    else:
        path = base / _get(data, "[data]", "path", str)
        if kind == "prices":
            frame = read_prices(path)
        else:
            frame = pd.read_csv(path, index_col=0, parse_dates=True)
            validate_frame(frame, str(path))
    start, end = data.get("start"), data.get("end")
    frame = frame.loc[start:end] if start or end else frame
    return prices_to_returns(frame) if kind == "prices" else frame


def _folds(config: Mapping[str, Any], windows: Windows) -> list[Fold]:
    keys = {"scheme", "test_size", "initial_train", "train_size", "val_size", "test", "val"}
    split = _section(config, "split", keys)
    scheme = _choice(split, "[split]", "scheme", ("walk_forward", "holdout"))
    try:
        if scheme == "holdout":
            return [holdout_split(windows, test=split.get("test", 0.2), val=split.get("val", 0.1))]
        return walk_forward_folds(
            windows,
            test_size=_get(split, "[split]", "test_size", (int, str)),
            initial_train=_get(split, "[split]", "initial_train", (int, float, str)),
            train_size=_get(split, "[split]", "train_size", (int, str), None),
            val_size=_get(split, "[split]", "val_size", (int, float), 0),
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(f"config [split]: {err}") from err


def _allocator(spec: Mapping[str, Any], where: str) -> nn.Module:
    name = _choice(spec, where, "allocator", ALLOCATORS, "softmax")
    cap = _get(spec, where, "max_weight", (int, float), None, positive=True)
    if name == "softmax":
        return allocators.SoftmaxAllocator(max_weight=cap)
    if name == "sparsemax":
        return allocators.SparsemaxAllocator(max_weight=cap)
    if name == "tanh":
        return allocators.TanhAllocator()
    return allocators.MarkowitzAllocator(max_weight=cap or 1.0)


def _network_builder(spec: Mapping[str, Any], where: str) -> Callable[[int, int, int], nn.Module]:
    kind = _choice(spec, where, "type", NETWORKS)
    hidden = _get(spec, where, "hidden_size", int, 32, positive=True)
    if kind == "lstm_markowitz" and spec.get("allocator", "markowitz") != "markowitz":
        raise ConfigError(
            f"config {where}.allocator: expected 'markowitz' for type 'lstm_markowitz', got "
            f"{spec.get('allocator')!r}"
        )
    if kind == "lstm_markowitz":
        spec = {**spec, "allocator": "markowitz"}
    _allocator(spec, where)  # validate now, build per fold

    def build(n_channels: int, n_assets: int, lookback: int) -> nn.Module:
        alloc = _allocator(spec, where)
        if kind == "dense":
            return networks.DenseNet(
                n_channels, lookback, hidden=(hidden, hidden // 2 or 1), allocator=alloc
            )
        if kind == "conv":
            return networks.ConvNet(n_channels, lookback, hidden=hidden, allocator=alloc)
        if kind == "attention":
            return networks.AttentionNet(n_channels, hidden_size=hidden, allocator=alloc)
        if kind == "lstm_markowitz":
            return networks.LSTMMarkowitzNet(n_channels, hidden_size=hidden, allocator=alloc)
        net_class = {
            "lstm": networks.LSTMNet,
            "gru": networks.GRUNet,
            "stacked_lstm": networks.StackedLSTMNet,
        }[kind]
        return net_class(n_channels, hidden_size=hidden, allocator=alloc)

    return build


def _strategies(config: Mapping[str, Any]) -> list[Strategy]:
    training = _section(
        config, "training", {"epochs", "lr", "patience", "batch_size", "loss"}, required=False
    )
    defaults = {
        "epochs": _get(training, "[training]", "epochs", int, 15, positive=True),
        "lr": _get(training, "[training]", "lr", (int, float), 3e-3, positive=True),
        "patience": _get(training, "[training]", "patience", int, 4, positive=True),
        "batch_size": _get(training, "[training]", "batch_size", int, 64, positive=True),
    }
    default_loss = _choice(training, "[training]", "loss", LOSSES, "sharpe")
    out: list[Strategy] = []
    for i, spec in enumerate(config.get("networks", [])):
        where = f"[[networks]][{i}]"
        unknown = sorted(set(spec) - _NETWORK_KEYS)
        if unknown:
            raise ConfigError(
                f"config {where}.{unknown[0]}: unknown key (expected one of {sorted(_NETWORK_KEYS)})"
            )
        values = {
            k: _get(spec, where, k, (int, float) if k == "lr" else int, v, positive=True)
            for k, v in defaults.items()
        }
        options = {
            "epochs": values["epochs"],
            "optimizer": functools.partial(torch.optim.Adam, lr=values["lr"]),
            "early_stopping": EarlyStopping(patience=values["patience"]),
            "batch_size": values["batch_size"],
        }
        loss = LOSSES[_choice(spec, where, "loss", LOSSES, default_loss)]()
        out.append(
            NetworkStrategy(
                _get(spec, where, "name", str), _network_builder(spec, where), loss, options
            )
        )
    for i, spec in enumerate(config.get("baselines", [])):
        where = f"[[baselines]][{i}]"
        kind = _choice(spec, where, "type", BASELINES)
        out.append(BaselineStrategy(_get(spec, where, "name", str, kind), BASELINES[kind]()))
    if not out:
        raise ConfigError(
            "config: expected at least one [[networks]] or [[baselines]] entry, got none"
        )
    return out


def build_suite(
    config: Mapping[str, Any], *, base: str | Path = ".", output: str | Path | None = None
) -> Suite:
    """Build a :class:`Suite` from a configuration dict (paths relative to ``base``)."""
    base = Path(base)
    returns = _load_returns(config, base)
    win = _section(config, "windows", {"lookback", "horizon", "gap"})
    windows = make_windows(
        returns,
        lookback=_get(win, "[windows]", "lookback", int, positive=True),
        horizon=_get(win, "[windows]", "horizon", int, positive=True),
        gap=_get(win, "[windows]", "gap", int, 0),
    )
    bt = _section(config, "backtest", {"costs_bps", "rebalance", "lag"}, required=False)
    out = _section(config, "output", {"path", "seed", "n_jobs"}, required=False)
    return Suite(
        windows=windows,
        returns=returns,
        folds=_folds(config, windows),
        strategies=_strategies(config),
        costs_bps=float(_get(bt, "[backtest]", "costs_bps", (int, float), 0.0)),
        rebalance=_get(bt, "[backtest]", "rebalance", str, None),
        lag=_get(bt, "[backtest]", "lag", int, 0),
        seed=_get(out, "[output]", "seed", int, 0),
        n_jobs=_get(out, "[output]", "n_jobs", int, 1, positive=True),
        output=Path(output)
        if output is not None
        else base / _get(out, "[output]", "path", str, "deepalloc-report"),
    )
