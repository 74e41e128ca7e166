"""Suite configurations: a TOML file (or dict) -> data, windows, folds, strategies.

:data:`SUITE_SCHEMA` lists every section and key a file may hold;
:func:`validate_config` checks a parsed file against it without reading data;
:func:`build_suite` (or :func:`load_suite` for a file) also checks what depends on the
data and builds the :class:`Suite`. Every error is a :class:`ConfigError` naming the
file, section and key.

Importing this package is light (pandas only); the parts that build networks load
torch when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepalloc.config.schema import ConfigError

if TYPE_CHECKING:
    from deepalloc.config.sections import SUITE_SCHEMA, validate_config
    from deepalloc.config.suite import DEMO_CONFIG, Suite, build_suite, load_config, load_suite

_LAZY = {
    "SUITE_SCHEMA": "deepalloc.config.sections",
    "validate_config": "deepalloc.config.sections",
    "DEMO_CONFIG": "deepalloc.config.suite",
    "Suite": "deepalloc.config.suite",
    "build_suite": "deepalloc.config.suite",
    "load_config": "deepalloc.config.suite",
    "load_suite": "deepalloc.config.suite",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepalloc.config' has no attribute {name!r}")


__all__ = [
    "DEMO_CONFIG",
    "SUITE_SCHEMA",
    "ConfigError",
    "Suite",
    "build_suite",
    "load_config",
    "load_suite",
    "validate_config",
]
