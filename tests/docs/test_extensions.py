"""The documentation's Sphinx extensions (docs/_ext): API pages, reference resolution,
configuration tables. ``make docs`` exercises them on the whole site; these tests pin
the rules each one follows."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the docs extra (sphinx) is not installed")

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"
sys.path.insert(0, str(EXT))

import aliases  # noqa: E402
import apigen  # noqa: E402


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        # a package's re-export, a short import path, a method and a property
        (
            "deepalloc.allocators.MarkowitzAllocator",
            "deepalloc.allocators.markowitz.MarkowitzAllocator",
        ),
        ("deepalloc.backtest.backtest", "deepalloc.analysis.backtest.backtest"),
        ("deepalloc.data.Windows.asset_returns", "deepalloc.data.windows.Windows.asset_returns"),
        ("deepalloc.data.Windows.x", "deepalloc.data.windows.Windows.x"),
        ("deepalloc.metrics", "deepalloc.metrics"),
    ],
)
def test_locate_finds_where_an_object_is_defined(path, canonical):
    found = aliases.locate(path)
    assert found is not None and found[1] == canonical


def test_locate_returns_none_for_names_that_do_not_exist():
    assert aliases.locate("deepalloc.allocators.MarkowitzAlocator") is None
    assert aliases.locate("deepalloc.no_such_module") is None


def test_type_checking_imports_are_found():
    names = aliases.type_checking_imports("deepalloc.reporting.visualize")
    assert names["Figure"] == "matplotlib.figure.Figure"


def test_alias_modules_are_recognised_with_their_targets():
    import deepalloc.analysis.backtest
    import deepalloc.backtest
    import deepalloc.data

    assert apigen.is_alias(deepalloc.backtest)
    assert apigen.alias_target(deepalloc.backtest) == "deepalloc.analysis.backtest"
    assert not apigen.is_alias(deepalloc.analysis.backtest)
    assert not apigen.is_alias(deepalloc.data)  # a package re-exports but defines too


def test_members_are_those_defined_in_the_module():
    import deepalloc.allocators.convex
    import deepalloc.allocators.convex_problems
    import deepalloc.data.scaling

    scaling = {m.name: m.directive for m in apigen.members(deepalloc.data.scaling)}
    assert scaling == {"StandardScaler": "autoclass", "RobustScaler": "autoclass"}
    # constants imported from convex_problems are documented there, not in convex
    assert "SCS_ARGS" not in {m.name for m in apigen.members(deepalloc.allocators.convex)}
    problems = {m.name for m in apigen.members(deepalloc.allocators.convex_problems)}
    assert {"SCS_ARGS", "OBJECTIVE_INPUTS", "build_problem"} <= problems


def _excluded_bases(cls: type) -> set[str] | None:
    """The bases whose members autodoc leaves out, or None without the option."""
    option = apigen._inherited_option(cls)
    if not option:
        return None
    return set(option[0].split(":inherited-members:")[1].replace(",", " ").split())


def test_methods_of_private_bases_are_shown_and_no_others():
    from deepalloc.allocators import SoftmaxAllocator, TanhAllocator
    from deepalloc.data import StandardScaler
    from deepalloc.losses import SharpeLoss

    # fit/transform come from the private _Scaler: shown; object's members: not
    scaler = _excluded_bases(StandardScaler)
    assert scaler is not None and "object" in scaler and "_Scaler" not in scaler
    softmax = _excluded_bases(SoftmaxAllocator)
    assert softmax is not None and {"Module", "object"} <= softmax
    assert "_TemperatureAllocator" not in softmax
    # public bases have pages of their own: nothing inherited is repeated
    assert _excluded_bases(TanhAllocator) is None
    assert _excluded_bases(SharpeLoss) is None


def test_every_public_module_gets_a_page_under_its_layer():
    names = apigen.module_names()
    assert "deepalloc.analysis.stats.sharpe" in names and "deepalloc._channels" in names
    assert "deepalloc.analysis._drift" not in names  # private, no page
    assert apigen._layer_of("deepalloc.allocators.qp") == "L3: Allocation layers"
    assert apigen._layer_of("deepalloc.something_new") == "More modules"


def _build(tmp_path: Path, page: str) -> str:
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXT)!r})\nextensions = ['configschema']\n"
    )
    (tmp_path / "index.rst").write_text(page)
    warnings = io.StringIO()
    with docutils_namespace():  # directives registered by one build do not leak into the next
        app = Sphinx(
            str(tmp_path),
            str(tmp_path),
            str(tmp_path / "_build"),
            str(tmp_path / "_doctrees"),
            "html",
            status=None,
            warning=warnings,
            freshenv=True,
        )
        app.build()
    return warnings.getvalue()


def test_config_tables_must_cover_every_section(tmp_path):
    from deepalloc.config import SUITE_SCHEMA

    names = [s.name for s in SUITE_SCHEMA]
    every = "Config\n======\n\n" + "".join(f".. config-section:: {n}\n\n" for n in names)
    assert "config-section" not in _build(tmp_path / "all", every)
    warnings = _build(tmp_path / "some", every.replace(f".. config-section:: {names[0]}\n", ""))
    assert f"sections without a table in the docs: {names[0]}" in warnings
    assert "no section 'nope'" in _build(tmp_path / "typo", "T\n=\n\n.. config-section:: nope\n")


def test_config_table_lists_keys_defaults_and_checks(tmp_path):
    _build(tmp_path, "Config\n======\n\n.. config-section:: backtest\n")
    html = (tmp_path / "_build" / "index.html").read_text()
    for text in ("costs_bps", "a non-negative number", "basis points of traded value", "0.0"):
        assert text in html
