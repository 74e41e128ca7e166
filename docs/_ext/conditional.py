"""``.. if-importable:: MODULE``: content shown only when ``MODULE`` can be imported.

For pages about features that arrive in parts (an optional extra, a subpackage still
being merged): the content, with its cross-references, appears once the module exists,
and ``:not:`` shows the alternative text until then. No warning either way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def importable(name: str) -> bool:
    """Whether ``import name`` succeeds."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


class IfImportable(SphinxDirective):
    """Parse the content if the module imports (or, with ``:not:``, if it does not)."""

    required_arguments = 1
    has_content = True
    option_spec: ClassVar[dict[str, Callable[[str], Any]]] = {"not": directives.flag}

    def run(self) -> list[nodes.Node]:
        show = importable(self.arguments[0]) != ("not" in self.options)
        if not show:
            return []
        container = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, container)
        return container.children


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("if-importable", IfImportable)
    return {"version": "1", "parallel_read_safe": True}
