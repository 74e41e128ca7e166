"""A configuration's search: the network entry as a function of a configuration, the
space, the search settings and their checks against the data (``deepalloc tune``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from deepalloc._checks import check_feasible_cap
from deepalloc.config.registry import LOSSES, network_builder
from deepalloc.config.schema import ConfigError
from deepalloc.config.search import searched
from deepalloc.config.sections import TRAINING_KEYS
from deepalloc.data import Fold, Windows, make_windows
from deepalloc.evaluation import NetworkStrategy, SequentialTraining
from deepalloc.evaluation.cluster import Cluster
from deepalloc.evaluation.tuning.nested import nested_folds
from deepalloc.evaluation.tuning.search import Search
from deepalloc.evaluation.tuning.space import Domain, example
from deepalloc.training import EarlyStopping

NETWORK_KEYS = ("hidden_size", "max_weight", "allocator")
"""Keys of a ``[[networks]]`` entry a search may set."""


@dataclass(frozen=True)
class EntryNetwork:
    """A ``[[networks]]`` entry as a function of a configuration: ``entry(config)`` is the
    entry's :class:`~deepalloc.evaluation.NetworkStrategy` with the configuration's
    values in place of its own (``lookback`` is for the windows and ignored here).

    Attributes
    ----------
    spec
        The validated entry.
    training
        The validated ``[training]`` section (defaults of the entry).
    metric
        A validation metric to add (a name of a loss), or ``"loss"``.
    """

    spec: Mapping[str, Any]
    training: Mapping[str, Any]
    metric: str = "loss"

    def __call__(self, config: Mapping[str, Any]) -> NetworkStrategy:
        entry = dict(self.spec)
        opts = {k: self.training[k] if entry[k] is None else entry[k] for k in TRAINING_KEYS}
        weights = {}
        for name, value in config.items():
            if name in NETWORK_KEYS:
                entry[name] = value
            elif name in TRAINING_KEYS:
                opts[name] = value
            elif name.startswith("loss_weights."):
                weights[name.split(".", 1)[1]] = float(value)
            elif name != "lookback":
                raise ValueError(f"config: expected searchable parameters, got {name!r}")
        loss = LOSSES[opts["loss"]]()
        for name, weight in sorted(weights.items()):
            loss = loss + weight * LOSSES[name]()
        options: dict[str, Any] = {
            "epochs": opts["epochs"],
            "optimizer": functools.partial(torch.optim.Adam, lr=float(opts["lr"])),
            "early_stopping": EarlyStopping(patience=int(opts["patience"])),
            "batch_size": int(opts["batch_size"]),
        }
        if self.metric != "loss":
            options["metrics"] = {self.metric: LOSSES[self.metric]()}
        sequential = None
        if opts["holdings_aware"] or opts["costs_bps"] > 0:
            sequential = SequentialTraining(
                run_length=int(opts["run_length"]),
                stride=opts["stride"],
                costs_bps=float(opts["costs_bps"]),
                truncate_every=opts["truncate_every"],
                batch_size=max(1, int(opts["batch_size"]) // int(opts["run_length"])),
            )
        build = network_builder(entry, holdings_aware=opts["holdings_aware"])
        return NetworkStrategy(entry["name"], build, loss, options, sequential)


@dataclass
class SearchPlan:
    """What ``deepalloc tune`` runs: :func:`deepalloc.tune.tune_suite`'s arguments that
    come from ``[search]``.

    Attributes
    ----------
    network
        The tuned entry as a function of a configuration.
    space
        Parameter -> domain.
    search
        The search settings.
    storage
        Where Ray Tune keeps the experiments (a folder or a URI).
    """

    network: EntryNetwork
    space: dict[str, Domain]
    search: Search
    storage: str


def cluster_of(spec: Mapping[str, Any], base: Path) -> Cluster:
    """The validated ``[cluster]`` as a :class:`~deepalloc.evaluation.cluster.Cluster`."""
    section = spec["cluster"]
    temp = section["temp_dir"]
    return Cluster(
        backend=section["backend"],
        address=section["address"],
        num_cpus=section["num_cpus"],
        temp_dir=None if temp is None else str(base / temp),
    )


def _check_data(
    plan: SearchPlan, returns: pd.DataFrame, windows: Windows, folds: list[Fold]
) -> None:
    """What the search needs of the data: room for the longest lookback in every fold,
    feasible caps, and a network that runs on the windows."""
    where = "[search]"
    if any(len(f.val) == 0 for f in folds):
        raise ConfigError(
            "expected a validation block (> 0) to score trials on, got none",
            where="[split].val_size",
        )
    lookbacks = plan.space.get("lookback")
    longest = windows.lookback if lookbacks is None else max(lookbacks.extremes())
    try:
        nested_folds(returns, windows, folds, int(longest))
    except ValueError as err:
        raise ConfigError(
            str(err).partition(": ")[2], where=f"{where}.lookback" if lookbacks else "[split]"
        ) from None
    caps = plan.space.get("max_weight")
    n_assets = returns.shape[1]
    if caps is not None:
        try:
            check_feasible_cap(n_assets, float(min(caps.extremes())))
        except ValueError:
            raise ConfigError(
                f"expected max_weight x assets >= 1 for every value, got {min(caps.extremes()):g}"
                f" x {n_assets} assets (use at least {1 / n_assets:.4g})",
                where=f"{where}.max_weight",
            ) from None
    config = example(plan.space)
    lookback = int(config.get("lookback", windows.lookback))
    strategy = plan.network(config)
    cut = make_windows(returns.iloc[: lookback + 1], lookback=lookback, horizon=0)
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            strategy.build(1, n_assets, lookback)(cut.x[:1])
    except (ValueError, TypeError, RuntimeError) as err:
        raise ConfigError(
            f"expected a network that runs with {config}, got: {err}", where=where
        ) from err


def build_search(
    spec: Mapping[str, Any],
    returns: pd.DataFrame,
    windows: Windows,
    folds: list[Fold],
    *,
    base: Path,
    report: Path,
) -> SearchPlan | None:
    """The search of a validated configuration (``None`` without ``[search]``), checked
    against the data."""
    section = spec["search"]
    if section is None:
        return None
    names = [net["name"] for net in spec["networks"]]
    entry = spec["networks"][names.index(section["network"] or names[0])]
    storage = section["storage"]
    if storage is None:
        storage = str(report / "tune")
    elif "://" not in storage:
        storage = str(base / storage)
    plan = SearchPlan(
        network=EntryNetwork(entry, spec["training"], section["metric"]),
        space=searched(section),
        search=Search(
            num_samples=section["num_samples"],
            scheduler=section["scheduler"],
            algorithm=section["algorithm"],
            metric=section["metric"],
            cpus_per_trial=section["cpus_per_trial"],
            max_concurrent_trials=section["max_concurrent_trials"],
            grace_period=section["grace_period"],
            reduction_factor=section["reduction_factor"],
            resume=section["resume"],
        ),
        storage=storage,
    )
    _check_data(plan, returns, windows, folds)
    return plan


__all__ = ["NETWORK_KEYS", "EntryNetwork", "SearchPlan", "build_search", "cluster_of"]
