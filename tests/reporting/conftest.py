"""Shared by the reporting tests: a small walk-forward suite with a network trained
with two seeds and monthly rebalancing, a CPCV suite of baselines, its report, and a
strict structural check of an HTML5 page (standard library parser)."""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import pytest

from deepalloc.baselines import InverseVolatility, SingleAsset
from deepalloc.data import (
    combinatorial_purged_folds,
    cpcv_paths,
    make_windows,
    synthetic_market,
    walk_forward_folds,
)
from deepalloc.evaluate import BaselineStrategy, NetworkStrategy, run_suite
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet

ODD_NAME = "inverse <vol> & co"
"""A baseline name with characters that HTML must escape and file names must avoid."""


def small_dense(channels, assets, lookback):
    return DenseNet(channels, lookback, hidden=(8, 4))


@pytest.fixture(scope="session")
def suite():
    returns = synthetic_market(500, 4, seed=5)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(windows, test_size=100, initial_train=250, val_size=40)
    strategies = [
        NetworkStrategy("dense", small_dense, SharpeLoss(), {"epochs": 2}),
        BaselineStrategy(ODD_NAME, InverseVolatility()),
    ]
    return run_suite(
        windows, strategies, folds, returns=returns, costs_bps=10, rebalance="M", seeds=2
    )


@pytest.fixture(scope="session")
def cpcv_suite():
    returns = synthetic_market(400, 3, seed=7)
    windows = make_windows(returns, lookback=20, horizon=5)
    folds = combinatorial_purged_folds(windows, n_groups=5, n_test_groups=2)
    paths = cpcv_paths(folds, 5, 2)
    strategies = [
        BaselineStrategy("inverse_volatility", InverseVolatility()),
        BaselineStrategy("single_a0", SingleAsset(0)),
    ]
    return run_suite(windows, strategies, folds, returns=returns, paths=paths)


@pytest.fixture(scope="session")
def report_dir(suite, tmp_path_factory):
    """The report of ``suite``, written once (read-only use)."""
    from deepalloc.report import report

    return report(suite, tmp_path_factory.mktemp("report")).parent


VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.doctype: str | None = None
        self.ids: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        values = dict(attrs)
        if "id" in values:
            self.ids.append(str(values["id"]))
        for key in ("src", "href"):
            if key in values:
                self.urls.append(str(values[key]))
        if tag == "img":
            self.images.append(values)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.errors.append(f"self-closing <{tag}/>")

    def handle_endtag(self, tag):
        if tag in VOID:
            self.errors.append(f"end tag of void element </{tag}>")
        elif not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _check_html(page: str) -> _Checker:
    """Parse ``page``; raise AssertionError on a structural error, return what was seen."""
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.doctype is not None and checker.doctype.lower() == "doctype html"
    assert not checker.errors, checker.errors
    assert not checker.stack, f"unclosed {checker.stack}"
    assert checker.tags[:2] == ["html", "head"] and "body" in checker.tags
    assert len(checker.ids) == len(set(checker.ids)), "duplicate ids"
    for url in checker.urls:
        assert url.startswith("data:image/png;base64,") or url.startswith("#"), url
    for image in checker.images:
        data = base64.b64decode(str(image["src"]).split(",", 1)[1], validate=True)
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert image.get("alt")
    return checker


@pytest.fixture
def check_html():
    """``check_html(page)``: raise AssertionError on a structural error, return the parse."""
    return _check_html
