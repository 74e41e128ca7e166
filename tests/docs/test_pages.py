"""The documentation does not rot: its Python code blocks run as written, every example
has a gallery page, and every page of the site is reachable.

The site itself is built, with warnings as errors and the gallery running every example,
by ``make docs`` (part of ``make test``).
"""

from __future__ import annotations

import re
import sys
import textwrap
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
GENERATED = ("_build/", "api/generated/", "auto_examples/", "gallery/", "sg_execution_times")
PAGES = sorted(
    str(p.relative_to(DOCS))
    for p in DOCS.rglob("*.rst")
    if not str(p.relative_to(DOCS)).startswith(GENERATED)
)
# A page whose code continues another's: run that page's blocks first.
CONTINUES = {"user_guide/significance.rst": "user_guide/evaluation.rst"}
# Pages whose blocks train on real data for long enough to be marked slow.
SLOW: set[str] = set()


def python_blocks(page: str) -> list[str]:
    """The content of every ``.. code-block:: python`` of a page, dedented, in order."""
    lines = (DOCS / page).read_text().splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        if re.fullmatch(r"\s*\.\. code-block:: python\s*", lines[i]):
            indent = len(lines[i]) - len(lines[i].lstrip())
            i += 1
            while i < len(lines) and re.fullmatch(r"\s+:\w[\w-]*:.*", lines[i]):
                i += 1  # directive options
            body: list[str] = []
            while i < len(lines) and (
                not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent
            ):
                body.append(lines[i])
                i += 1
            blocks.append(textwrap.dedent("\n".join(body)))
        else:
            i += 1
    return blocks


def run_page(page: str, namespace: dict[str, object]) -> None:
    for number, block in enumerate(python_blocks(page), 1):
        code = compile(block, f"{page} (python block {number})", "exec")
        exec(code, namespace)


@pytest.mark.parametrize(
    "page",
    [pytest.param(p, marks=pytest.mark.slow) if p in SLOW else p for p in PAGES],
)
def test_python_blocks_run(page, monkeypatch):
    # a real module, as a script's __main__ would be (dataclasses look their module up)
    module = types.ModuleType("deepalloc_docs_page")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    if page in CONTINUES:
        run_page(CONTINUES[page], module.__dict__)
    run_page(page, module.__dict__)


def test_pages_have_code_where_expected():
    # the parser finds the blocks (a broken parser would make the test above vacuous)
    assert len(python_blocks("user_guide/data.rst")) >= 8
    assert all("code-block:: python" not in b for p in PAGES for b in python_blocks(p))


def test_every_example_has_a_gallery_page():
    examples = {p.stem for p in (ROOT / "examples").glob("*.py") if p.stem != "__init__"}
    wrapped = {
        m.group(1)
        for p in (DOCS / "gallery").glob("plot_*.py")
        for m in re.finditer(r"from examples import (\w+)", p.read_text())
    }
    missing = sorted(examples - wrapped)
    assert not missing, (
        f"examples without a gallery page: {missing}; add docs/gallery/plot_<n>_<name>.py "
        "that runs the example's main() in a small setting (see the others)"
    )


def test_every_page_is_in_a_toctree():
    text = {p: (DOCS / p).read_text() for p in PAGES}
    linked = set()
    for page, content in text.items():
        for block in re.findall(r"\.\. toctree::\n((?:\s+.*\n|\n)+)", content):
            for entry in re.findall(r"^\s+([\w/]+)\s*$", block, re.M):
                linked.add(str(Path(page).parent / f"{entry}.rst").removeprefix("./"))
    assert set(PAGES) - {"index.rst"} <= linked
