"""Asset colours: distinct for many assets, hatches beyond 20."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deepalloc.reporting.palette import HATCHES, asset_colors, asset_hatches


@pytest.mark.parametrize("n", [1, 10, 11, 20, 25, 40, 60])
def test_up_to_60_assets_get_distinct_colours(n):
    colours = asset_colors(n)
    assert len(colours) == n
    assert len(set(colours)) == n
    assert all(len(c) == 4 and all(0.0 <= v <= 1.0 for v in c) for c in colours)


def test_25_colours_are_far_apart():
    # the smallest RGB distance between two of the 25 colours: tab20's pairs differ by
    # their shade, tab20b's families by 0.1 or more in a channel
    colours = asset_colors(25)
    gaps = [
        max(abs(a - b) for a, b in zip(x[:3], y[:3]))
        for i, x in enumerate(colours)
        for y in colours[i + 1 :]
    ]
    assert min(gaps) > 0.05


@given(st.integers(0, 600))
def test_colour_and_hatch_pairs_are_unique(n):
    pairs = list(zip(asset_colors(n), asset_hatches(n)))
    assert len(pairs) == n and len(set(pairs)) == n
    assert asset_hatches(n)[: min(n, 20)] == [""] * min(n, 20)
    assert set(asset_hatches(n)) <= set(HATCHES)


@pytest.mark.parametrize("bad", [-1, 2.0, True, "3"])
def test_bad_counts_are_refused(bad):
    with pytest.raises(ValueError, match="n: expected"):
        asset_colors(bad)
    with pytest.raises(ValueError, match="n: expected"):
        asset_hatches(bad)
