"""Colours and hatches that tell many assets apart in weight plots.

Up to 10 assets get matplotlib's ``tab10``; up to 20, ``tab20`` (ten hues, each in a
dark and a light shade). Beyond 20, the 40 colours of ``tab20b`` and ``tab20c`` (ten
more hue families of four shades) follow ``tab20``, so up to 60 assets get 60
distinct colours. As the later colours are closer to each other, assets 21 and on
also get a hatch pattern that changes every 20 assets; past 60 assets the colours
repeat and the (colour, hatch) pair stays unique up to 60 x len(HATCHES) assets.
"""

from __future__ import annotations

HATCHES = ("", "////", "....", "xxxx", "\\\\\\\\", "oo", "++", "--", "||", "**")
"""Hatch patterns: one per block of 20 assets (none for the first 20)."""

_FAMILIES = ("tab20", "tab20b", "tab20c")


def asset_colors(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` RGBA colours, all distinct for ``n <= 60`` (see the module docstring)."""
    from matplotlib import colormaps

    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    if n <= 10:
        cmap = colormaps["tab10"]
        return [tuple(cmap(i)) for i in range(n)]  # type: ignore[misc]
    pool = [tuple(colormaps[name](i)) for name in _FAMILIES for i in range(20)]
    return [pool[i % len(pool)] for i in range(n)]  # type: ignore[misc]


def asset_hatches(n: int) -> list[str]:
    """``n`` hatch patterns: none for the first 20 assets, then one per block of 20."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n: expected a non-negative int, got {n!r}")
    if n <= 20:
        return [""] * n
    return [HATCHES[(i // 20) % len(HATCHES)] for i in range(n)]


__all__ = ["HATCHES", "asset_colors", "asset_hatches"]
