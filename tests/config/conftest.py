"""A small valid suite configuration (as a dict) over the bundled factor ETF prices."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from deepalloc.config import DEMO_CONFIG
from deepalloc.datasets import load_factor_etfs


@pytest.fixture
def config(tmp_path) -> dict[str, Any]:
    """The demo's configuration on 5 factor ETFs from 2019, one epoch: valid as it is."""
    load_factor_etfs().to_csv(tmp_path / "prices.csv")
    cfg = copy.deepcopy(DEMO_CONFIG)
    del cfg["data"]["dataset"]
    cfg["data"].update(path="prices.csv", start="2019-01-01")
    cfg["split"].update(initial_train="2021-01-01", train_size=250)
    cfg["training"]["epochs"] = 1
    return cfg
