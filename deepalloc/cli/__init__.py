"""The ``deepalloc`` command."""

from deepalloc.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
