"""Holm's step-down adjustment: a hand-computed case and the procedure's invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from deepalloc.stats import holm

p_arrays = arrays(np.float64, st.integers(1, 30), elements=st.floats(0.0, 1.0))


def test_hand_computed_example():
    # sorted: 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06), 0.04 (x1 = 0.04 -> 0.06)
    got = holm(np.array([0.01, 0.04, 0.03, 0.005]))
    assert np.allclose(got, [0.03, 0.06, 0.06, 0.02], rtol=1e-15)
    assert np.allclose(holm([0.3, 0.6]), [0.6, 0.6]) and np.allclose(holm([0.6, 0.7]), [1.0, 1.0])


def test_series_keeps_index_and_name():
    p = pd.Series([0.02, 0.5], index=["lstm", "gru"], name="p")
    got = holm(p)
    assert isinstance(got, pd.Series) and got.name == "p"
    assert got.to_dict() == pytest.approx({"lstm": 0.04, "gru": 0.5})
    assert len(holm(np.array([]))) == 0


@given(p_arrays)
def test_adjusted_bounds_and_order(p):
    adj = holm(p)
    assert np.all(adj >= p) and np.all(adj <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adj[order]) >= 0)  # ranks as the raw p-values do


@given(p_arrays, st.sampled_from([0.01, 0.05, 0.1]))
def test_rejections_match_the_sequential_procedure(p, alpha):
    """Holm (1979): walk up the sorted p-values, rejecting while p_(j) <= alpha / (m - j + 1)."""
    m = len(p)
    rejected = np.zeros(m, bool)
    for j, i in enumerate(np.argsort(p, kind="stable")):
        if p[i] > alpha / (m - j):
            break
        rejected[i] = True
    # compare decisions away from exact ties with the threshold (float products)
    adj = holm(p)
    clear = np.abs(adj - alpha) > 1e-12
    assert np.array_equal((adj <= alpha)[clear], rejected[clear])


def test_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.2, 1.2])
    with pytest.raises(ValueError, match="1-d"):
        holm(np.ones((2, 2)) / 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([np.nan])
