"""Render report blocks as one self-contained HTML5 page.

Figures are embedded as base64 PNG data URIs and the style sheet is inline, so the
page loads nothing from anywhere: it can be mailed, archived or opened offline. Every
piece of text is escaped.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

from deepalloc.reporting.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    table_cells,
)

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 1rem 1.5rem; color: #1a1a1a;
       line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .3rem; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
ul.verdicts { background: #f6f8fa; border-left: 4px solid #555; padding: .6rem 1rem .6rem 2rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #555; }
code { background: #f0f0f0; padding: 0 .2rem; }
.table-wrap { overflow-x: auto; }
"""


def inline(text: str) -> str:
    """Plain text as escaped HTML; spans between backticks become ``<code>``."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return html.escape(text)
    return "".join(
        f"<code>{html.escape(part)}</code>" if i % 2 else html.escape(part)
        for i, part in enumerate(parts)
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "n/a"
    return True


def _table(block: Table) -> str:
    header, rows = table_cells(block)
    head = "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header)
    body = []
    for row in rows:
        cells = [f'<th scope="row">{html.escape(row[0])}</th>']
        cells += [
            f'<td class="num">{html.escape(c)}</td>' if _is_number(c) else f"<td>{inline(c)}</td>"
            for c in row[1:]
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<div class="table-wrap"><table>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _image(block: Image, images: Mapping[str, bytes]) -> str:
    if block.filename not in images:
        raise ValueError(f"images: expected the PNG of {block.filename!r}, got none")
    data = base64.b64encode(images[block.filename]).decode("ascii")
    alt = html.escape(block.alt)
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>{alt}</figcaption></figure>"
    )


def _anchor(text: str, used: set[str]) -> str:
    """A unique ``id`` for a heading: its words joined by hyphens."""
    words = "".join(ch if ch.isalnum() else " " for ch in text.lower()).split()
    base = "-".join(words) or "section"
    anchor, k = base, 1
    while anchor in used:
        k += 1
        anchor = f"{base}-{k}"
    used.add(anchor)
    return anchor


def _block(block: Block, images: Mapping[str, bytes], used: set[str]) -> str:
    if isinstance(block, Heading):
        level = min(max(block.level, 1), 6)
        anchor = _anchor(block.text, used)
        return f'<h{level} id="{html.escape(anchor)}">{inline(block.text)}</h{level}>'
    if isinstance(block, Paragraph):
        return f"<p>{inline(block.text)}</p>"
    if isinstance(block, Bullets):
        css = ' class="verdicts"' if block.emphasis else ""
        items = "".join(f"<li>{inline(item)}</li>" for item in block.items)
        return f"<ul{css}>{items}</ul>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Image):
        return _image(block, images)
    raise TypeError(f"blocks: expected report blocks, got {type(block).__name__}")


def to_html(blocks: list[Block], *, title: str, images: Mapping[str, bytes]) -> str:
    """One HTML5 page of the blocks, with the PNG bytes of every :class:`Image` embedded.

    Parameters
    ----------
    blocks
        The report's content, in order.
    title
        The page's ``<title>``.
    images
        Figure file name -> PNG bytes, for every ``Image`` block.
    """
    used: set[str] = set()
    body = "\n".join(_block(block, images, used) for block in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="deepalloc">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>{_STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


__all__ = ["inline", "to_html"]
