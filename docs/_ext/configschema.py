"""Tables of a configuration file's keys, read from ``deepalloc.config.SUITE_SCHEMA``.

``.. config-section:: data`` renders the keys of ``[data]``: name, accepted values,
default and meaning, exactly as :func:`deepalloc.config.validate_config` checks them
A section of the schema that no page renders, or a directive naming a section the
schema lacks, is a warning (an error under ``-W``), so the page cannot drift from the
schema: a new section fails the build until it is documented.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)


def _schema() -> dict[str, Any]:
    from deepalloc.config.schema import REQUIRED
    from deepalloc.config.sections import SUITE_SCHEMA

    return {"sections": {s.name: s for s in SUITE_SCHEMA}, "required": REQUIRED}


def _default(value: Any, required: Any) -> str:
    if value is required:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"``{str(value).lower()}``"
    if isinstance(value, str):
        return f'``"{value}"``'
    return f"``{value!r}``"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


class ConfigSection(SphinxDirective):
    """``.. config-section:: NAME``: the table of one section's keys."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        schema = _schema()
        section = schema["sections"].get(name)
        if section is None:
            known = ", ".join(schema["sections"])
            logger.warning(
                "config-section: no section %r in SUITE_SCHEMA (it has %s)",
                name,
                known,
                location=self.get_location(),
            )
            return []
        if not hasattr(self.env, "deepalloc_config_sections"):
            self.env.deepalloc_config_sections = {}  # type: ignore[attr-defined]
        self.env.deepalloc_config_sections[name] = self.env.docname  # type: ignore[attr-defined]
        kind = "an array of tables, one per entry" if section.array else "a table"
        need = "required" if section.required else "optional"
        lines = [
            f"``{section.header}`` ({need}, {kind}): {_cell(section.doc)}.",
            "",
            ".. list-table::",
            "   :header-rows: 1",
            "   :widths: 18 32 14 36",
            "",
            "   * - key",
            "     - accepted values",
            "     - default",
            "     - meaning",
        ]
        for key_name, key in section.keys.items():
            lines += [
                f"   * - ``{key_name}``",
                f"     - {_cell(key.check.expected)}",
                f"     - {_default(key.default, schema['required'])}",
                f"     - {_cell(key.doc)}",
            ]
        if section.other is not None:
            lines += [
                "   * - any other name",
                f"     - {_cell(section.other.expected)}",
                "     - none",
                "     - (free names)",
            ]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=""), self.content_offset, container)
        return container.children


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    sections = getattr(env, "deepalloc_config_sections", {})
    for name in [n for n, doc in sections.items() if doc == docname]:
        del sections[name]


def _check_complete(app: Sphinx, env: BuildEnvironment) -> None:
    documented = set(getattr(env, "deepalloc_config_sections", {}))
    missing = [name for name in _schema()["sections"] if name not in documented]
    if missing:
        logger.warning(
            "config-section: SUITE_SCHEMA sections without a table in the docs: %s "
            "(add '.. config-section:: NAME' to user_guide/configuration.rst)",
            ", ".join(missing),
        )


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("config-section", ConfigSection)
    app.connect("env-purge-doc", _purge)
    app.connect("env-check-consistency", _check_complete)
    return {"version": "1", "parallel_read_safe": False}
