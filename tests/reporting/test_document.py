"""Report blocks rendered to Markdown and to a self-contained, escaped HTML page."""

import base64

import numpy as np
import pandas as pd
import pytest

from deepalloc.reporting.document import (
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    format_cell,
    to_markdown,
)
from deepalloc.reporting.html import inline, to_html

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def _blocks():
    frame = pd.DataFrame(
        {"sharpe_ratio": [1.23456, np.nan], "note": ["a|b", "<b>bold</b>"], "n": [3, 4]},
        index=pd.Index(["net <x>", "equal_weight"]),
    )
    return [
        Heading("Title & <more>", 1),
        Paragraph("See `metrics.csv` & <script>alert(1)</script>"),
        Bullets(("first", "second <i>"), emphasis=True),
        Heading("Section"),
        Table(frame, digits=2),
        Heading("Section"),
        Image("fig.png", 'a "figure"'),
    ]


def test_cells_are_formatted_by_type():
    assert format_cell(1.23456, 3) == "1.235"
    assert format_cell(np.float64(-0.5), 2) == "-0.50"
    assert format_cell(float("nan"), 2) == "n/a"
    assert format_cell(np.int64(7), 3) == "7"
    assert format_cell(True, 3) == "True"
    assert format_cell("M", 3) == "M"


def test_markdown_rendering():
    text = to_markdown(_blocks())
    lines = text.splitlines()
    assert lines[0] == "# Title & <more>"
    assert "- first" in lines and "- second <i>" in lines
    assert "| strategy | sharpe ratio | note | n |" in lines
    assert "|---|---|---|---|" in lines
    assert "| net <x> | 1.23 | a\\|b | 3 |" in lines
    assert "| equal_weight | n/a | <b>bold</b> | 4 |" in lines
    assert '![a "figure"](fig.png)' in lines
    with pytest.raises(TypeError, match="blocks"):
        to_markdown(["text"])


def test_html_is_valid_escaped_and_self_contained(check_html):
    page = to_html(_blocks(), title="Report <1>", images={"fig.png": PNG})
    seen = check_html(page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<title>Report &lt;1&gt;</title>" in page
    assert "<code>metrics.csv</code>" in page
    assert '<td class="num">1.23</td>' in page and '<td class="num">n/a</td>' in page
    assert "<td>&lt;b&gt;bold&lt;/b&gt;</td>" in page
    assert '<th scope="row">net &lt;x&gt;</th>' in page
    assert 'alt="a &quot;figure&quot;"' in page
    assert '<ul class="verdicts">' in page
    assert seen.ids == ["title-more", "section", "section-2"]
    assert len(seen.images) == 1
    src = seen.images[0]["src"]
    assert base64.b64decode(src.split(",", 1)[1]) == PNG
    with pytest.raises(ValueError, match="fig.png"):
        to_html(_blocks(), title="t", images={})


def test_inline_code_spans():
    assert inline("a `b<c>` d") == "a <code>b&lt;c&gt;</code> d"
    assert inline("odd ` backtick") == "odd ` backtick"
