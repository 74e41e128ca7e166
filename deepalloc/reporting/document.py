"""A report as a list of blocks (headings, paragraphs, lists, tables, figures), written
once and rendered to Markdown here and to HTML by :mod:`deepalloc.reporting.html`.

Text in paragraphs and lists is plain; a span between backticks is code.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Heading:
    """A section title; ``level`` 1 is the page title."""

    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of plain text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """A list of plain-text items; ``emphasis`` marks a key list (the verdicts)."""

    items: tuple[str, ...]
    emphasis: bool = False


@dataclass(frozen=True)
class Table:
    """A frame shown as a table, floats with ``digits`` decimals."""

    frame: pd.DataFrame
    index_label: str = "strategy"
    digits: int = 3


@dataclass(frozen=True)
class Image:
    """A figure: a PNG file of the report folder."""

    filename: str
    alt: str


Block = Heading | Paragraph | Bullets | Table | Image


def format_cell(value: object, digits: int) -> str:
    """A table cell as text: floats with ``digits`` decimals (``n/a`` for NaN)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    number = float(value)
    return "n/a" if math.isnan(number) else f"{number:.{digits}f}"


def table_cells(table: Table) -> tuple[list[str], list[list[str]]]:
    """Header (index label first) and rows of a table, as text."""
    header = [table.index_label, *(str(c).replace("_", " ") for c in table.frame.columns)]
    rows = [
        [str(index), *(format_cell(v, table.digits) for v in row)]
        for index, row in zip(table.frame.index, table.frame.itertuples(index=False), strict=True)
    ]
    return header, rows


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    """The blocks as GitHub-flavoured Markdown."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            out += [block.text, ""]
        elif isinstance(block, Bullets):
            out += [*(f"- {item}" for item in block.items), ""]
        elif isinstance(block, Table):
            header, rows = table_cells(block)
            out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
            out.append("|---" * len(header) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            out.append("")
        elif isinstance(block, Image):
            out += [f"![{block.alt}]({block.filename})", ""]
        else:
            raise TypeError(f"blocks: expected report blocks, got {type(block).__name__}")
    return "\n".join(out)


__all__ = [
    "Block",
    "Bullets",
    "Heading",
    "Image",
    "Paragraph",
    "Table",
    "format_cell",
    "table_cells",
    "to_markdown",
]
