"""A sphinx-gallery image scraper for the figures deepalloc draws.

deepalloc's plotting functions build ``matplotlib.figure.Figure`` objects without pyplot
(the library never touches pyplot's global state), so sphinx-gallery's matplotlib
scraper, which lists pyplot's figures, does not see them. This scraper saves every
Figure bound to a top-level name of the example that it has not saved before; it runs
beside the matplotlib scraper, which keeps handling pyplot figures.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

_SAVED: dict[str, set[int]] = {}


def scrape(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """Save the new deepalloc figures of the block that just ran; return their rst."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    saved = _SAVED.setdefault(str(block_vars["src_file"]), set())
    figures = [
        value
        for value in block_vars["example_globals"].values()
        if isinstance(value, Figure) and id(value) not in saved
    ]
    paths = []
    for figure, path in zip(figures, block_vars["image_path_iterator"], strict=False):
        figure.savefig(path, dpi=100, bbox_inches="tight")
        saved.add(id(figure))
        paths.append(PurePosixPath(path))
    return figure_rst(paths, gallery_conf["src_dir"]) if paths else ""
