"""The [search] and [cluster] sections: checked in the schema's style, built against the
data, and ignored by `deepalloc run`."""

from __future__ import annotations

import copy

import pytest
import torch

from deepalloc.config import ConfigError, build_suite, validate_config
from deepalloc.config.tuning import EntryNetwork
from deepalloc.evaluation.cluster import Cluster
from deepalloc.evaluation.tuning.space import Choice, LogUniform, RandInt, Uniform
from deepalloc.losses import MaxDrawdownLoss, SharpeLoss, SortinoLoss

SPACE = {
    "lr": {"loguniform": [1e-4, 1e-2]},
    "hidden_size": {"choice": [8, 16]},
    "lookback": {"choice": [20, 60]},
    "max_weight": {"uniform": [0.3, 0.6]},
}


@pytest.fixture
def searching(config):
    """The config fixture with a [search] of the first network (conv_markowitz capped)."""
    cfg = copy.deepcopy(config)
    cfg["search"] = {"num_samples": 4, **copy.deepcopy(SPACE)}
    return cfg


def test_a_search_is_built_with_its_space_settings_and_storage(searching, tmp_path):
    searching["search"].update(
        loss_weights={"max_drawdown": {"uniform": [0.0, 0.5]}}, scheduler="fifo", metric="sharpe"
    )
    suite = build_suite(searching, base=tmp_path)
    plan = suite.search
    assert plan is not None
    assert plan.space == {
        "lr": LogUniform(1e-4, 1e-2),
        "hidden_size": Choice((8, 16)),
        "lookback": Choice((20, 60)),
        "max_weight": Uniform(0.3, 0.6),
        "loss_weights.max_drawdown": Uniform(0.0, 0.5),
    }
    assert plan.network.spec["name"] == "lstm_softmax"  # the first entry by default
    assert (plan.search.num_samples, plan.search.scheduler, plan.search.metric) == (
        4,
        "fifo",
        "sharpe",
    )
    assert plan.storage == str(tmp_path / "deepalloc-report" / "tune")
    assert suite.cluster == Cluster()


def test_run_ignores_the_search_and_builds_the_same_suite(searching, config, tmp_path):
    with_search = build_suite(searching, base=tmp_path)
    without = build_suite(config, base=tmp_path)
    assert without.search is None
    assert [s.name for s in with_search.strategies] == [s.name for s in without.strategies]
    assert with_search.windows.lookback == without.windows.lookback


@pytest.mark.parametrize(
    ("edit", "where", "message"),
    [
        (lambda s: s.update(lrr=SPACE["lr"]), "[search].lrr", "unknown key (did you mean 'lr'?)"),
        (
            lambda s: s.update(lr={"logunifrom": [1e-4, 1e-2]}),
            "[search].lr",
            "expected a domain",
        ),
        (lambda s: s.update(lr={"loguniform": [0, 1e-2]}), "[search].lr", "low > 0"),
        (lambda s: s.update(lr={"uniform": [0.1, 0.01]}), "[search].lr", "low < high"),
        (
            lambda s: s.update(hidden_size={"uniform": [8, 16]}),
            "[search].hidden_size",
            "not uniform for this parameter",
        ),
        (
            lambda s: s.update(hidden_size={"choice": [8, "16"]}),
            "[search].hidden_size",
            "'16' is not a positive integer",
        ),
        (
            lambda s: s.update(max_weight={"uniform": [0.3, 1.5]}),
            "[search].max_weight",
            "1.5 is not",
        ),
        (
            lambda s: s.update(loss={"choice": ["sharpe", "sharp"]}),
            "[search].loss",
            "'sharp' is not one of",
        ),
        (
            lambda s: s.update(loss_weights={"max_drawdwn": {"uniform": [0, 1]}}),
            "[search].loss_weights",
            "unknown loss 'max_drawdwn' (did you mean 'max_drawdown'?)",
        ),
        (lambda s: s.update(num_samples=0), "[search].num_samples", "a positive integer"),
        (lambda s: s.update(scheduler="hyperband"), "[search].scheduler", "one of ['asha'"),
        (lambda s: s.update(network="lstm"), "[search].network", "a [[networks]] entry"),
        (
            lambda s: [s.pop(k) for k in SPACE],
            "[search]",
            "expected at least one parameter to search",
        ),
    ],
)
def test_search_errors_name_the_key(searching, tmp_path, edit, where, message):
    edit(searching["search"])
    with pytest.raises(ConfigError) as info:
        build_suite(searching, base=tmp_path)
    assert info.value.where == where, str(info.value)
    assert message in str(info.value)


def test_a_cap_needs_a_capped_allocator(searching, tmp_path):
    searching["networks"][0]["allocator"] = "tanh"
    with pytest.raises(
        ConfigError, match=r"\[search\]\.max_weight: expected allocators with a cap"
    ):
        build_suite(searching, base=tmp_path)


def test_what_depends_on_the_data(searching, tmp_path):
    cases = [
        ({"lookback": {"choice": [20, 400]}}, r"\[search\]\.lookback: expected room before"),
        ({"max_weight": {"uniform": [0.1, 0.6]}}, r"\[search\]\.max_weight: .* x 5 assets"),
    ]
    for edit, message in cases:
        cfg = copy.deepcopy(searching)
        cfg["search"].update(edit)
        with pytest.raises(ConfigError, match=message):
            build_suite(cfg, base=tmp_path)
    cfg = copy.deepcopy(searching)
    cfg["split"]["val_size"] = 0
    with pytest.raises(ConfigError, match=r"\[split\]\.val_size: expected a validation block"):
        build_suite(cfg, base=tmp_path)


def test_cluster_section(config, tmp_path):
    config["cluster"] = {"backend": "ray", "address": "auto"}
    assert build_suite(config, base=tmp_path).cluster == Cluster("ray", "auto")
    config["cluster"] = {"num_cpus": 2, "temp_dir": "ray"}
    cluster = build_suite(config, base=tmp_path).cluster
    assert (cluster.num_cpus, cluster.temp_dir) == (2, str(tmp_path / "ray"))
    config["cluster"] = {"address": "auto", "num_cpus": 2}
    with pytest.raises(ConfigError, match=r"\[cluster\]\.num_cpus: expected none with an address"):
        validate_config(config)
    config["cluster"] = {"backend": "dask"}
    with pytest.raises(ConfigError, match=r"\[cluster\]\.backend: expected one of"):
        validate_config(config)


def test_entry_network_takes_a_configuration(searching, tmp_path):
    suite = build_suite(searching, base=tmp_path)
    entry = EntryNetwork(suite.search.network.spec, suite.search.network.training, metric="sortino")
    strategy = entry(
        {
            "lr": 0.005,
            "hidden_size": 8,
            "lookback": 20,
            "loss": "sharpe",
            "loss_weights.max_drawdown": 0.25,
        }
    )
    assert repr(strategy.loss) == repr(SharpeLoss() + 0.25 * MaxDrawdownLoss())
    assert strategy.fit_options["optimizer"](torch.nn.Linear(1, 1).parameters()).defaults[
        "lr"
    ] == pytest.approx(0.005)
    assert repr(strategy.fit_options["metrics"]["sortino"]) == repr(SortinoLoss())
    network = strategy.build(1, 5, 20)
    lstm = next(m for m in network.modules() if isinstance(m, torch.nn.LSTM))
    assert lstm.hidden_size == 8
    # with an empty configuration, the entry as `deepalloc run` trains it
    plain = EntryNetwork(suite.search.network.spec, suite.search.network.training)({})
    run = suite.strategies[0]
    assert plain.name == run.name and repr(plain.loss) == repr(run.loss)
    assert plain.fit_options.keys() == run.fit_options.keys()
    assert plain.fit_options["epochs"] == run.fit_options["epochs"]


def test_randint_includes_both_ends():
    from deepalloc.evaluation.tuning.space import parse_domain

    domain = parse_domain({"randint": [1, 3]})
    assert domain == RandInt(1, 3)
    pytest.importorskip("ray.tune")
    values = set(domain.to_ray().sample(size=200, random_state=0))
    assert values == {1, 2, 3}
