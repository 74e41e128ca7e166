"""Suite configurations: a TOML file (or dict) -> data, windows, folds, strategies.

A configuration is checked completely before anything is trained: first every
section and value against :data:`deepalloc.config.SUITE_SCHEMA` (no data read), then
what depends on the data (the file, the date range, enough dates for the windows and
the folds, caps the assets can meet, networks that run on the windows). Every error
is a :class:`ConfigError` naming the file, section and key, for example
``suite.toml [data].start: expected a date 'YYYY-MM-DD', got 'yesterday'``. See
``examples/config.toml`` for a complete file; :data:`DEMO_CONFIG` is the demo's.
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from deepalloc._checks import check_feasible_cap
from deepalloc.config.registry import BASELINES
from deepalloc.config.schema import ConfigError
from deepalloc.config.sections import SPLIT_KEYS, validate_config
from deepalloc.config.tuning import EntryNetwork, SearchPlan, build_search, cluster_of
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
from deepalloc.evaluation import (
    BaselineStrategy,
    NetworkStrategy,
    Strategy,
)
from deepalloc.evaluation.cluster import Cluster

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
    "training": {
        "epochs": 15,
        "lr": 0.003,
        "patience": 4,
        "batch_size": 64,
        "loss": "sharpe",
        "seeds": 3,
    },
    "networks": [
        {"name": "lstm_softmax", "type": "lstm", "allocator": "softmax", "hidden_size": 16},
        {"name": "conv_markowitz", "type": "conv", "allocator": "markowitz", "max_weight": 0.2},
    ],
    "baselines": [
        {"name": "inverse_volatility", "type": "inverse_volatility"},
        {"name": "minimum_variance", "type": "minimum_variance"},
    ],
    "output": {"path": "deepalloc-report", "seed": 0, "n_jobs": 2},
}
"""The configuration of ``deepalloc demo``, as a parsed file would give it."""


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
    leverage: float
    seed: int
    n_jobs: int
    output: Path
    seeds: int = 1
    cache_dir: Path | None = None
    final_val_size: int | float = 0
    final_train_size: int | str | None = None
    cluster: Cluster = field(default_factory=Cluster)
    search: SearchPlan | None = None


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a TOML configuration file (``OSError`` if it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"expected valid TOML, got {err}", source=str(path)) from err


def _read_file(path: Path, kind: str) -> pd.DataFrame:
    if kind == "prices":
        return read_prices(path)
    with warnings.catch_warnings():  # a column that is not dates gets its own error
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        frame = pd.read_csv(path, index_col=0, parse_dates=True)
    validate_frame(frame, str(path))
    return frame


def _load_returns(data: Mapping[str, Any], base: Path) -> pd.DataFrame:
    where = "[data]"
    if data["dataset"] is not None:
        frame = load_sp500() if data["dataset"] == "sp500" else load_factor_etfs()
    else:
        path = base / data["path"]
        if not path.exists():
            raise ConfigError(
                f"expected an existing file, got {data['path']!r} (no {path})",
                where=f"{where}.path",
            )
        if not path.is_file():
            raise ConfigError(
                f"expected a file, got {data['path']!r}, which is a folder", where=f"{where}.path"
            )
        try:
            frame = _read_file(path, data["kind"])
        except pd.errors.EmptyDataError as err:
            raise ConfigError(
                f"{path}: expected a date column and one column per asset, got an empty file",
                where=f"{where}.path",
            ) from err
        except (ValueError, TypeError, OSError, ImportError) as err:
            raise ConfigError(f"{err}", where=f"{where}.path") from err
    first, last = frame.index[0].date(), frame.index[-1].date()
    sliced = frame.loc[data["start"] : data["end"]]
    if len(sliced) < 2:
        start, end = data["start"], data["end"]
        raise ConfigError(
            f"expected a range holding at least two dates of the data ({first} to {last}), got "
            f"{len(sliced)} from {start.date() if start is not None else 'the first date'} to "
            f"{end.date() if end is not None else 'the last date'}",
            where=f"{where}.{'start' if start is not None else 'end'}",
        )
    return prices_to_returns(sliced) if data["kind"] == "prices" else sliced


def _windows(win: Mapping[str, Any], returns: pd.DataFrame) -> Windows:
    needed = win["lookback"] + win["gap"] + win["horizon"]
    if len(returns) < needed:
        raise ConfigError(
            f"expected lookback + gap + horizon = {needed} at most the {len(returns)} return "
            f"dates of the data ({returns.index[0].date()} to {returns.index[-1].date()})",
            where="[windows].lookback",
        )
    try:
        return make_windows(
            returns, lookback=win["lookback"], horizon=win["horizon"], gap=win["gap"]
        )
    except (ValueError, TypeError) as err:
        raise ConfigError(str(err), where="[windows]") from err


def _folds(split: Mapping[str, Any], windows: Windows) -> list[Fold]:
    try:
        if split["scheme"] == "holdout":
            test = 0.2 if split["test"] is None else split["test"]
            val = 0.1 if split["val"] is None else split["val"]
            return [holdout_split(windows, test=test, val=val)]
        return walk_forward_folds(
            windows,
            test_size=split["test_size"],
            initial_train=split["initial_train"],
            train_size=split["train_size"],
            val_size=0 if split["val_size"] is None else split["val_size"],
        )
    except (TypeError, ValueError) as err:
        name, _, rest = str(err).partition(": ")
        key = f".{name}" if name in SPLIT_KEYS and rest else ""
        raise ConfigError(
            f"{rest if key else err} ({windows.n_samples} samples from "
            f"{windows.timestamps[0].date()} to {windows.timestamps[-1].date()})",
            where=f"[split]{key}",
        ) from err


def _final_val_size(split: Mapping[str, Any]) -> int | float:
    """The validation block of the final training on all data, as the folds had one."""
    if split["scheme"] == "holdout":
        return 0.1 if split["val"] is None else split["val"]
    return 0 if split["val_size"] is None else split["val_size"]


def _check_lag(lag: int, windows: Windows, folds: list[Fold], returns: pd.DataFrame) -> None:
    first = windows.timestamps[folds[0].test[0]]
    left = len(returns) - int(returns.index.get_loc(first)) - 1
    if lag > left:
        raise ConfigError(
            f"expected at most the {left} dates after the first test decision "
            f"({first.date()}), got {lag}",
            where="[backtest].lag",
        )


def _dry_run(model: torch.nn.Module, windows: Windows, where: str) -> None:
    """Run ``model`` on two windows, so that a shape or cap error shows before training."""
    x = windows.x[:2]
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            model(x)
    except (ValueError, TypeError, RuntimeError) as err:
        _, n_channels, n_assets, lookback = x.shape
        raise ConfigError(
            f"expected a strategy that runs on windows of {n_channels} channel(s), {n_assets} "
            f"assets and lookback {lookback}, got: {err}",
            where=where,
        ) from err


def _network(
    spec: Mapping[str, Any], training: Mapping[str, Any], windows: Windows, i: int
) -> NetworkStrategy:
    where = f"[[networks]][{i}]"
    n_assets = len(windows.assets)
    cap = spec["max_weight"]  # the schema allows a cap only on capped allocators
    if cap is not None:
        try:
            check_feasible_cap(n_assets, cap)
        except ValueError:
            raise ConfigError(
                f"expected max_weight x assets >= 1 so that weights can sum to one, got "
                f"{cap:g} x {n_assets} assets = {cap * n_assets:g} (use at least "
                f"{1 / n_assets:.4g})",
                where=f"{where}.max_weight",
            ) from None
    strategy = EntryNetwork(spec, training)({})
    with torch.random.fork_rng(devices=[]):
        model = strategy.build(len(windows.channels), n_assets, windows.lookback)
    _dry_run(model, windows, where)
    return strategy


def _check_sequential(strategies: list[Strategy], folds: list[Fold], windows: Windows) -> None:
    """Sequential training needs its stride within the horizon and its runs within the
    smallest training block."""
    for i, s in enumerate(strategies):
        if not isinstance(s, NetworkStrategy) or s.sequential is None:
            continue
        stride = s.sequential.stride or windows.horizon
        if stride > windows.horizon:
            raise ConfigError(
                f"expected a stride of at most the horizon {windows.horizon}, got {stride}",
                where=f"[[networks]][{i}].stride",
            )
        span = (s.sequential.run_length - 1) * stride + 1
        shortest = min(len(f.train) for f in folds)
        if span > shortest:
            raise ConfigError(
                f"expected runs of run_length x stride within the shortest training block "
                f"({shortest} samples), got {s.sequential.run_length} decisions {stride} "
                f"samples apart ({span} samples)",
                where=f"[[networks]][{i}].run_length",
            )


def _strategies(spec: Mapping[str, Any], windows: Windows) -> list[Strategy]:
    out: list[Strategy] = [
        _network(net, spec["training"], windows, i) for i, net in enumerate(spec["networks"])
    ]
    for i, base in enumerate(spec["baselines"]):
        rule = BASELINES[base["type"]]()
        _dry_run(rule, windows, f"[[baselines]][{i}]")
        out.append(BaselineStrategy(base["name"] or base["type"], rule))
    return out


def _output_folder(spec: Mapping[str, Any], base: Path, output: str | Path | None) -> Path:
    path = Path(output) if output is not None else base / spec["output"]["path"]
    existing = next(p for p in (path, *path.parents) if p.exists())
    if not existing.is_dir():
        raise ConfigError(
            f"expected a folder for the report, got {str(path)!r}, but {str(existing)!r} is a file",
            where="[output].path" if output is None else "",
        )
    return path


def build_suite(
    config: Mapping[str, Any],
    *,
    base: str | Path = ".",
    output: str | Path | None = None,
    source: str | Path | None = None,
) -> Suite:
    """Check a configuration completely and build a :class:`Suite` from it.

    Parameters
    ----------
    config
        The parsed TOML document (see :func:`load_config`) or a dict of the same shape.
    base
        Folder that relative paths in the configuration start from.
    output
        Report folder, overriding ``[output].path``.
    source
        The configuration's file, named in error messages.

    Returns
    -------
    Suite

    Raises
    ------
    ConfigError
        On any invalid section, key or value, or one the data cannot satisfy, before
        anything is trained; the message names the file, section and key.
    """
    base = Path(base)
    try:
        spec = validate_config(config)
        returns = _load_returns(spec["data"], base)
        windows = _windows(spec["windows"], returns)
        folds = _folds(spec["split"], windows)
        _check_lag(spec["backtest"]["lag"], windows, folds, returns)
        strategies = _strategies(spec, windows)
        _check_sequential(strategies, folds, windows)
        folder = _output_folder(spec, base, output)
        search = build_search(spec, returns, windows, folds, base=base, report=folder)
    except ConfigError as err:
        if err.source is None and source is not None:
            err.source = str(source)
        raise
    bt, out = spec["backtest"], spec["output"]
    return Suite(
        windows=windows,
        returns=returns,
        folds=folds,
        strategies=strategies,
        costs_bps=bt["costs_bps"],
        rebalance=bt["rebalance"],
        lag=bt["lag"],
        leverage=bt["leverage"],
        seed=out["seed"],
        n_jobs=out["n_jobs"],
        output=folder,
        seeds=spec["training"]["seeds"],
        cache_dir=folder / "cache" if out["cache"] else None,
        final_val_size=_final_val_size(spec["split"]),
        final_train_size=spec["split"]["train_size"],
        cluster=cluster_of(spec, base),
        search=search,
    )


def load_suite(path: str | Path, *, output: str | Path | None = None) -> Suite:
    """:func:`build_suite` of the TOML file ``path`` (relative paths start from its folder)."""
    path = Path(path)
    return build_suite(load_config(path), base=path.parent, output=output, source=path)
