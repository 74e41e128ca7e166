"""Suite configurations: a TOML file (or dict) -> data, windows, folds, strategies."""

from deepalloc.config.suite import (
    DEMO_CONFIG,
    ConfigError,
    Suite,
    build_suite,
    load_config,
)

__all__ = ["DEMO_CONFIG", "ConfigError", "Suite", "build_suite", "load_config"]
