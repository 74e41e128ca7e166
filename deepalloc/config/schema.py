"""A declarative schema for configuration files: sections of keys, each with its check.

A schema is a sequence of :class:`Section` objects; each maps its keys to a
:class:`Key` (a value check, a default and a one-line description). :func:`validate`
walks a parsed TOML document against it and returns the values with every default
filled in, or raises :class:`ConfigError` naming the section and key at fault
(``[data].start: expected a date 'YYYY-MM-DD', got 'yesterday'``). Unknown sections
and unknown keys are errors that list the valid names and suggest the closest one.

Adding a section or a key is one entry in the table; nothing else needs to change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deepalloc.config.checks import Check, Invalid, suggest


class ConfigError(ValueError):
    """A configuration value is missing or invalid.

    ``str(error)`` reads ``"<file> [section].key: expected ..., got ..."`` (``config``
    instead of the file name when the configuration did not come from a file).

    Attributes
    ----------
    reason
        What was expected and what came.
    where
        The section and key at fault (``"[data].start"``), or ``""`` for the whole file.
    source
        The configuration file, when known.
    """

    def __init__(self, reason: str, *, where: str = "", source: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.where = where
        self.source = source

    def __str__(self) -> str:
        prefix = str(self.source) if self.source else "config"
        return f"{prefix} {self.where}: {self.reason}" if self.where else f"{prefix}: {self.reason}"


REQUIRED: Any = object()
"""Default of a key that must be given."""


@dataclass(frozen=True)
class Key:
    """One key of a section: its check, default (:data:`REQUIRED` when none) and meaning."""

    check: Check
    default: Any = None
    doc: str = ""


@dataclass(frozen=True)
class Section:
    """One section of the file: ``[name]`` (a table) or ``[[name]]`` (an array of tables).

    Attributes
    ----------
    name
        The section's name in the file.
    keys
        Key name -> :class:`Key`.
    doc
        One line on what the section is for.
    array
        ``True`` for an array of tables (``[[networks]]``, one table per entry).
    required
        Whether the section must be present.
    rule
        Checks across the keys of one table, given its validated values and its
        location (``"[split]"`` or ``"[[networks]][1]"``); raises :class:`ConfigError`.
    other
        Check of the keys not named in ``keys``, for a section of free names (a search
        space, say); ``None`` (default) makes an unnamed key an error.
    """

    name: str
    keys: Mapping[str, Key]
    doc: str
    array: bool = False
    required: bool = False
    rule: Callable[[dict[str, Any], str], None] | None = field(default=None, compare=False)
    other: Check | None = None

    @property
    def header(self) -> str:
        """``[name]`` or ``[[name]]``, as written in the file."""
        return f"[[{self.name}]]" if self.array else f"[{self.name}]"


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return "an array of tables"
    return repr(value)


def _check_table(section: Section, table: Any, where: str) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"expected a table, got {_describe(table)}", where=where)
    unknown = [k for k in table if k not in section.keys]
    if unknown and section.other is None:
        raise ConfigError(
            f"unknown key{suggest(unknown[0], section.keys)}; expected one of "
            f"{sorted(section.keys)}",
            where=f"{where}.{unknown[0]}",
        )
    keys = dict(section.keys)
    keys.update({name: Key(section.other, REQUIRED) for name in unknown if section.other})
    out: dict[str, Any] = {}
    for name, key in keys.items():
        if name not in table:
            if key.default is REQUIRED:
                raise ConfigError(
                    f"expected {key.check.expected} ({key.doc}), got none", where=f"{where}.{name}"
                )
            out[name] = key.default
            continue
        try:
            out[name] = key.check(table[name])
        except (ValueError, TypeError) as err:
            expected, hint = key.check.expected, ""
            if isinstance(err, Invalid):
                expected, hint = err.expected, err.hint
            raise ConfigError(
                f"expected {expected}, got {_describe(table[name])}{hint}", where=f"{where}.{name}"
            ) from None
    if section.rule is not None:
        section.rule(out, where)
    return out


def _section_names(schema: Sequence[Section]) -> str:
    return ", ".join(s.header for s in schema)


def _check_section(section: Section, value: Any) -> Any:
    if section.array:
        if isinstance(value, Mapping):
            raise ConfigError(
                f"expected an array of tables (each entry starts with {section.header}), got "
                f"a table [{section.name}]",
                where=section.header,
            )
        if not isinstance(value, list):
            raise ConfigError(f"expected an array of tables, got {value!r}", where=section.header)
        return [
            _check_table(section, item, f"{section.header}[{i}]") for i, item in enumerate(value)
        ]
    if isinstance(value, list):
        raise ConfigError(
            f"expected one table [{section.name}], got an array of tables {section.header}"
            f" (write [{section.name}] once)",
            where=f"[{section.name}]",
        )
    return _check_table(section, value, section.header)


def validate(config: Any, schema: Sequence[Section]) -> dict[str, Any]:
    """Check a parsed configuration against ``schema`` and fill in the defaults.

    Parameters
    ----------
    config
        The parsed document (``tomllib.load``'s dict, or one written by hand).
    schema
        The sections a valid document may have.

    Returns
    -------
    dict
        Section name -> dict of key -> value (every key present, defaults filled in),
        or a list of such dicts for an array section (empty when absent).

    Raises
    ------
    ConfigError
        On an unknown or missing section, an unknown or missing key, or a value that
        fails its check; the message names the section and key.
    """
    if not isinstance(config, Mapping):
        raise ConfigError(f"expected a table of sections, got {type(config).__name__}")
    by_name = {s.name: s for s in schema}
    for name in config:
        if name not in by_name:
            raise ConfigError(
                f"unknown section{suggest(name, by_name)}; expected sections "
                f"{_section_names(schema)}",
                where=f"[{name}]",
            )
    out: dict[str, Any] = {}
    for section in schema:
        if section.name in config:
            out[section.name] = _check_section(section, config[section.name])
        elif section.required:
            raise ConfigError(
                f"expected this section ({section.doc}), got none", where=section.header
            )
        else:
            out[section.name] = [] if section.array else _check_table(section, {}, section.header)
    return out


def describe(schema: Sequence[Section]) -> str:
    """The schema as text, one block per section and one line per key (for documentation)."""
    lines = []
    for section in schema:
        lines.append(f"{section.header}  {section.doc}{' (required)' if section.required else ''}")
        for name, key in section.keys.items():
            default = (
                "required"
                if key.default is REQUIRED
                else "optional"
                if key.default is None
                else f"default {key.default!r}"
            )
            lines.append(f"  {name}: {key.check.expected}; {default}. {key.doc}")
    return "\n".join(lines)


__all__ = ["REQUIRED", "ConfigError", "Key", "Section", "describe", "validate"]
