"""Search spaces: domains checked on creation, TOML forms parsed, Ray imported lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deepalloc.evaluation.tuning.search import Search
from deepalloc.evaluation.tuning.space import (
    Choice,
    LogUniform,
    RandInt,
    Uniform,
    check_space,
    choice,
    example,
    loguniform,
    parse_domain,
    randint,
    uniform,
)


def test_toml_forms_parse_to_domains():
    assert parse_domain({"choice": [16, 32]}) == Choice((16, 32)) == choice([16, 32])
    assert parse_domain({"uniform": [0.1, 0.5]}) == Uniform(0.1, 0.5) == uniform(0.1, 0.5)
    assert parse_domain({"loguniform": [1e-4, 1e-2]}) == LogUniform(1e-4, 1e-2)
    assert parse_domain({"randint": [1, 4]}) == RandInt(1, 4) == randint(1, 4)
    assert example({"a": loguniform(1e-4, 1e-2), "b": choice(["x"])}) == pytest.approx(
        {"a": 1e-3, "b": "x"}
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"choice": []}, "non-empty list"),
        ({"uniform": [1]}, r"expected \[low, high\]"),
        ({"uniform": [2, 1]}, "low < high"),
        ({"loguniform": [0.0, 1.0]}, "low > 0"),
        ({"randint": [1, 2.5]}, "integers"),
        ({"normal": [0, 1]}, "one of choice"),
        ({"choice": [1], "uniform": [0, 1]}, "a table with one of"),
        ([1, 2], "a table with one of"),
    ],
)
def test_bad_domains_say_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_domain(spec)


def test_check_space_and_search_settings():
    with pytest.raises(ValueError, match="non-empty mapping"):
        check_space({})
    with pytest.raises(TypeError, match=r"space\['lr'\]: expected choice"):
        check_space({"lr": [1e-3, 1e-2]})
    for bad in (
        {"num_samples": 0},
        {"scheduler": "pbt"},
        {"algorithm": "grid"},
        {"cpus_per_trial": 0},
        {"reduction_factor": 1},
        {"max_concurrent_trials": True},
    ):
        with pytest.raises(ValueError, match=next(iter(bad))):
            Search(**bad)
    assert Search(cpus_per_trial=0.5).threads == 1 and Search(cpus_per_trial=2).threads == 2


def test_nothing_imports_ray_until_a_search_starts():
    code = (
        "import sys, deepalloc.tune, deepalloc.evaluate, deepalloc.config, deepalloc.cli\n"
        "from deepalloc.config import build_suite\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith(('ray.', 'optuna'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
