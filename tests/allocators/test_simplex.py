import cvxpy as cp
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.allocators import SoftmaxAllocator, SparsemaxAllocator, TanhAllocator
from deepalloc.errors import NonFiniteError
from deepalloc.functional.simplex import project_box_simplex
from tests.allocators.conftest import TIGHT


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 12),
    seed=st.integers(0, 10_000),
    scale=st.floats(0.01, 10.0),
    cap_factor=st.floats(1.0, 3.0),
)
def test_projection_matches_cvxpy(n, seed, scale, cap_factor):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(1, n)) * scale
    cap = min(1.0, cap_factor / n)
    w = project_box_simplex(torch.tensor(z), 1.0, 0.0, cap).numpy()[0]
    x = cp.Variable(n)
    cp.Problem(cp.Minimize(cp.sum_squares(x - z[0])), [cp.sum(x) == 1, x >= 0, x <= cap]).solve(
        **TIGHT
    )
    np.testing.assert_allclose(w, x.value, atol=1e-7)
    # the projection is exact up to rounding: n terms of size up to max |z| summed
    rounding = 4 * n * np.finfo(np.float64).eps * (1 + np.abs(z).max())
    assert abs(w.sum() - 1) <= rounding and w.max() <= cap + rounding


def test_general_bounds_projection():
    rng = np.random.default_rng(0)
    z = torch.tensor(rng.normal(size=(4, 6)))
    lo = torch.tensor([-0.3, -0.1, 0.0, 0.0, -0.2, 0.1], dtype=torch.float64)
    hi = torch.tensor([0.5, 0.4, 0.3, 0.6, 0.2, 0.5], dtype=torch.float64)
    w = project_box_simplex(z, 0.7, lo, hi)
    for i in range(4):
        x = cp.Variable(6)
        cons = [cp.sum(x) == 0.7, x >= lo.numpy(), x <= hi.numpy()]
        cp.Problem(cp.Minimize(cp.sum_squares(x - z[i].numpy())), cons).solve(**TIGHT)
        np.testing.assert_allclose(w[i].numpy(), x.value, atol=1e-7)


def test_sparsemax_is_sparse_and_capped_softmax_never_exceeds_cap():
    z = torch.tensor([[3.0, 1.0, 0.2, -1.0]])
    w = SparsemaxAllocator()(z)
    assert (w == 0).sum() >= 2
    big = torch.randn(100, 10) * 5
    capped = SoftmaxAllocator(max_weight=0.15)(big)
    assert capped.max() <= 0.15 + 1e-6
    torch.testing.assert_close(capped.sum(-1), torch.ones(100))


def test_tanh_exposures():
    z = torch.randn(50, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    z[0] = z[0].abs()  # a sample with no short candidate
    z[1] = -z[1].abs()  # a sample with no long candidate
    mixed = (z > 0).any(-1) & (z < 0).any(-1)
    assert int(mixed.sum()) == 48
    w = TanhAllocator(net=1.0, gross=1.6)(z)
    torch.testing.assert_close(w[mixed].sum(-1), torch.ones(48, dtype=torch.float64))
    torch.testing.assert_close(w[mixed].abs().sum(-1), torch.full((48,), 1.6, dtype=torch.float64))
    # one side only: it carries the net exposure when its sign agrees; when it cannot (no
    # long candidate for a net long book) the row is the net exposure spread equally
    torch.testing.assert_close(w[0].sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w[0].abs().sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w[1], torch.full((8,), 1.0 / 8, dtype=torch.float64))
    short_book = TanhAllocator(net=-0.5, gross=1.0)(z[:1])  # no short candidate
    torch.testing.assert_close(short_book[0], torch.full((8,), -0.5 / 8, dtype=torch.float64))
    neutral = TanhAllocator(net=0.0)(z)
    # each side is scaled by total / (sum + 1e-12) (normalized_tanh's guard against an
    # empty side), so its sum misses its total by up to 1e-12 / sum, plus rounding
    t = torch.tanh(z)
    guard = 1e-12 / t.clamp_min(0).sum(-1) + 1e-12 / (-t).clamp_min(0).sum(-1)
    rounding = 4 * 8 * torch.finfo(torch.float64).eps
    assert (neutral.sum(-1).abs() <= guard + rounding).all()
    assert (neutral.abs().sum(-1) <= 1 + rounding).all()
    plain = TanhAllocator()(z)
    torch.testing.assert_close(plain, torch.tanh(z) / torch.tanh(z).abs().sum(-1, keepdim=True))
    with pytest.raises(ValueError, match="gross"):
        TanhAllocator(net=1.0, gross=0.5)


def test_learnable_temperature_receives_gradient():
    alloc = SoftmaxAllocator(temperature="learnable")
    z = torch.randn(4, 5)
    (alloc(z) * torch.arange(5.0)).sum().backward()
    assert alloc.log_temperature.grad is not None and alloc.log_temperature.grad.abs() > 0


def test_nan_scores_raise_instead_of_valid_looking_weights():
    # the capped softmax used to return [0.5, 0.288, 0.106, 0.106] for this input
    z = torch.tensor([[float("nan"), 1.0, 0.0, 0.0]])
    for alloc in (SoftmaxAllocator(max_weight=0.5), SparsemaxAllocator(max_weight=0.5)):
        with pytest.raises(NonFiniteError, match="scores: expected finite values") as err:
            alloc(z)
        assert err.value.argument == "scores" and err.value.samples == [0]
    with pytest.raises(ValueError, match="temperature: expected positive values"):
        SoftmaxAllocator()(torch.zeros(2, 3), temperature=torch.tensor([1.0, float("nan")]))
