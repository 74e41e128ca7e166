"""The ``[search]`` and ``[cluster]`` sections: a hyper-parameter search, and where work runs.

``[search]`` holds the search's settings and its space: each searchable parameter is a
key whose value is a domain table, ``lr = { loguniform = [1e-4, 1e-2] }``; every value a
domain can take is checked as the parameter itself would be (a ``hidden_size`` choice
of positive integers, a ``max_weight`` interval inside (0, 1], ...).
``loss_weights`` adds weighted losses to the training loss, each weight a domain.
``deepalloc run`` checks the section and ignores it; ``deepalloc tune`` runs it.

``[cluster]`` says where ``deepalloc run`` and ``deepalloc tune`` run: a local Ray
instance (the default for a search), or an existing cluster by address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from deepalloc.config.checks import (
    Check,
    Invalid,
    boolean,
    choice,
    integer,
    number,
    string,
    suggest,
)
from deepalloc.config.registry import (
    ALLOCATORS,
    LOSSES,
    MEAN_VARIANCE_NETWORKS,
    UNCAPPED_ALLOCATORS,
    default_allocator,
)
from deepalloc.config.schema import ConfigError, Key, Section
from deepalloc.evaluation.tuning.space import (
    Choice,
    Domain,
    LogUniform,
    RandInt,
    Uniform,
    parse_domain,
)

_FORMS = {
    "number": (Choice, Uniform, LogUniform, RandInt),
    "integer": (Choice, RandInt),
    "choice": (Choice,),
}
_WRITTEN = {
    Choice: "{ choice = [...] }",
    Uniform: "{ uniform = [low, high] }",
    LogUniform: "{ loguniform = [low, high] }",
    RandInt: "{ randint = [low, high] }",
}


def domain(check: Check, kind: str = "number") -> Check:
    """A search domain whose every value passes ``check`` (returned as a Domain).

    ``kind``: ``"number"`` (any domain), ``"integer"`` (choice or randint: a uniform
    draw is not an integer) or ``"choice"`` (names).
    """
    forms = _FORMS[kind]
    written = [_WRITTEN[f] for f in forms]
    listed = written[0] if len(written) == 1 else ", ".join(written[:-1]) + " or " + written[-1]
    expected = f"a domain {listed} whose values are each {check.expected}"

    def convert(value: Any) -> Domain:
        try:
            parsed = parse_domain(value)
        except (ValueError, TypeError) as err:
            raise Invalid(expected, f" ({err})") from None
        if not isinstance(parsed, forms):
            raise Invalid(expected, f" (not {str(parsed).split()[0]} for this parameter)")
        for v in parsed.extremes():
            try:
                check(v)
            except (ValueError, TypeError):
                raise Invalid(expected, f" ({v!r} is not {check.expected})") from None
        return parsed

    return Check(expected, convert)


def _weights(value: Any) -> dict[str, Domain]:
    """``loss_weights``: loss name -> domain of its weight (non-negative)."""
    expected = f"a table of loss names ({sorted(LOSSES)}) to domains of weights >= 0"
    if not isinstance(value, Mapping) or not value:
        raise Invalid(expected)
    weight = domain(number(0))
    out = {}
    for name, spec in value.items():
        if name not in LOSSES:
            raise Invalid(expected, f" (unknown loss {name!r}{suggest(name, LOSSES)})")
        out[str(name)] = weight(spec)
    return out


SEARCH_SETTINGS: dict[str, Key] = {
    "network": Key(string(), None, "name of the [[networks]] entry to tune; default the first"),
    "num_samples": Key(integer(1), 8, "trials per walk-forward fold"),
    "scheduler": Key(choice(("asha", "fifo")), "asha", "asha stops trailing trials early"),
    "algorithm": Key(
        choice(("random", "tpe")), "random", "random search, or Optuna's TPE (optuna extra)"
    ),
    "metric": Key(
        choice(("loss", *LOSSES)),
        "loss",
        "validation metric to minimise: the training loss or a loss",
    ),
    "cpus_per_trial": Key(number(0, exclusive_minimum=True), 1.0, "CPUs Ray reserves per trial"),
    "max_concurrent_trials": Key(
        integer(1), 1, "trials at once; 1 keeps ASHA and TPE reproducible"
    ),
    "grace_period": Key(integer(1), 1, "ASHA: epochs before a trial may be stopped"),
    "reduction_factor": Key(
        number(1, exclusive_minimum=True), 3.0, "ASHA: 1 in this many trials goes on at a rung"
    ),
    "resume": Key(boolean(), False, "continue the search stored in storage"),
    "storage": Key(
        string(),
        None,
        "Ray Tune's experiments (relative to the config, or a URI); default <report>/tune",
    ),
}

SEARCH_PARAMETERS: dict[str, Key] = {
    "lookback": Key(domain(integer(1), "integer"), None, "[windows].lookback"),
    "lr": Key(domain(number(0, exclusive_minimum=True)), None, "Adam learning rate"),
    "hidden_size": Key(domain(integer(1), "integer"), None, "width of the hidden layers"),
    "max_weight": Key(domain(number(0, 1, exclusive_minimum=True)), None, "cap on each weight"),
    "batch_size": Key(domain(integer(1), "integer"), None, "samples per gradient step"),
    "patience": Key(domain(integer(1), "integer"), None, "early stopping patience"),
    "loss": Key(domain(choice(LOSSES), "choice"), None, "training objective (a choice)"),
    "allocator": Key(domain(choice(ALLOCATORS), "choice"), None, "allocator (a choice)"),
    "loss_weights": Key(
        Check(
            "a table of loss names to weight domains, e.g. { max_drawdown = { uniform = [0, 1] } }",
            _weights,
        ),
        None,
        "losses added to the training loss, each with a searched weight",
    ),
}


def _cluster_rule(cluster: dict[str, Any], where: str) -> None:
    if cluster["address"] is not None:
        for key in ("num_cpus", "temp_dir"):
            if cluster[key] is not None:
                raise ConfigError(
                    f"expected none with an address (it sets up a new local Ray instance; the "
                    f"cluster at {cluster['address']!r} has its own), got {cluster[key]!r}",
                    where=f"{where}.{key}",
                )


SEARCH_SECTION = Section(
    "search",
    {**SEARCH_SETTINGS, **SEARCH_PARAMETERS},
    "hyper-parameter search of one network (deepalloc tune; deepalloc run ignores it)",
)

CLUSTER_SECTION = Section(
    "cluster",
    {
        "backend": Key(
            choice(("local", "ray")),
            "local",
            "deepalloc run: folds on this machine or as Ray tasks",
        ),
        "address": Key(
            string(),
            None,
            "join this Ray cluster ('auto', 'host:port', 'ray://host:port'): deepalloc tune, "
            "and deepalloc run with backend = 'ray'; none: a local instance",
        ),
        "num_cpus": Key(integer(1), None, "CPUs of a local Ray instance; default all"),
        "temp_dir": Key(string(), None, "Ray's session folder of a local instance; keep it short"),
    },
    "where deepalloc run (backend = 'ray') and deepalloc tune run: a local Ray instance or a cluster",
    rule=_cluster_rule,
)


def searched(search: Mapping[str, Any]) -> dict[str, Domain]:
    """The space of a validated ``[search]``: parameter -> domain, ``loss_weights``
    flattened to ``loss_weights.<loss>``."""
    space: dict[str, Domain] = {}
    for name in SEARCH_PARAMETERS:
        value = search[name]
        if value is None:
            continue
        if name == "loss_weights":
            space.update({f"loss_weights.{k}": v for k, v in value.items()})
        else:
            space[name] = value
    return space


def check_search(spec: Mapping[str, Any]) -> None:
    """Rules of a present ``[search]`` across sections: a space, a network entry that
    exists, and parameters that entry can take."""
    search, where = spec["search"], "[search]"
    if not searched(search):
        raise ConfigError(
            f"expected at least one parameter to search ({sorted(SEARCH_PARAMETERS)}), got none",
            where=where,
        )
    names = [net["name"] for net in spec["networks"]]
    if not names:
        raise ConfigError(
            "expected a [[networks]] entry to tune, got none", where=f"{where}.network"
        )
    name = search["network"] or names[0]
    if name not in names:
        raise ConfigError(
            f"expected the name of a [[networks]] entry ({names}), got {name!r}",
            where=f"{where}.network",
        )
    net = spec["networks"][names.index(name)]
    allocators = (
        search["allocator"].values
        if search["allocator"]
        else (net["allocator"] or default_allocator(net["type"]),)
    )
    if (
        search["allocator"]
        and net["type"] in MEAN_VARIANCE_NETWORKS
        and set(allocators) != {"markowitz"}
    ):
        raise ConfigError(
            f"expected only 'markowitz' for type {net['type']!r}, got {list(allocators)}",
            where=f"{where}.allocator",
        )
    if search["max_weight"] is not None and any(a in UNCAPPED_ALLOCATORS for a in allocators):
        raise ConfigError(
            f"expected allocators with a cap to search max_weight, got {sorted(set(allocators))}",
            where=f"{where}.max_weight",
        )
    if search["max_weight"] is None and net["max_weight"] is not None and search["allocator"]:
        uncapped = [a for a in allocators if a in UNCAPPED_ALLOCATORS]
        if uncapped:
            raise ConfigError(
                f"expected allocators with a cap for {name!r} (max_weight "
                f"{net['max_weight']:g}), got {uncapped}",
                where=f"{where}.allocator",
            )


__all__ = [
    "CLUSTER_SECTION",
    "SEARCH_PARAMETERS",
    "SEARCH_SECTION",
    "SEARCH_SETTINGS",
    "check_search",
    "domain",
    "searched",
]
