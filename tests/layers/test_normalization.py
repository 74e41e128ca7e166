"""InstanceNorm against a float64 NumPy reference."""

import numpy as np
import pytest
import torch

from deepalloc.layers import InstanceNorm


def np_instance_norm(x, eps):
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_instance_norm_matches_the_reference(dtype):
    rng = np.random.default_rng(0)
    # returns-like series: small values around a non-zero mean, one nearly constant
    x = rng.normal(1e-3, 1e-2, size=(3, 2, 5, 40))
    x[0, 0, 0] = 5e-3 + rng.normal(0, 1e-9, size=40)
    eps = 1e-5
    got = InstanceNorm(eps=eps)(torch.tensor(x, dtype=dtype)).double().numpy()
    want = np_instance_norm(x, eps)
    # outputs are O(1); float32 rounds the 40-term mean and variance and the inputs
    # themselves (relative 6e-8 of values 1e-2 against a spread 1e-2): 40 eps32 covers it
    tol = 1e-12 if dtype == torch.float64 else 40 * torch.finfo(torch.float32).eps
    np.testing.assert_allclose(got, want, rtol=0, atol=tol)


def test_instance_norm_affine_and_gradients():
    torch.manual_seed(0)
    norm = InstanceNorm(2, affine=True).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([2.0, -1.0]))
        norm.bias.copy_(torch.tensor([0.5, 0.0]))
    x = torch.randn(2, 2, 3, 7, dtype=torch.float64, requires_grad=True)
    plain = np_instance_norm(x.detach().numpy(), norm.eps)
    want = plain * np.array([2.0, -1.0])[:, None, None] + np.array([0.5, 0.0])[:, None, None]
    np.testing.assert_allclose(norm(x).detach().numpy(), want, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(norm, (x,))


def test_instance_norm_does_not_depend_on_memory_layout():
    # windows cut from one long series are strided views; a model's weights must be the
    # same bits whether it reads such a view or a contiguous copy
    series = torch.randn(1, 5, 500, generator=torch.Generator().manual_seed(3))
    view = series.unfold(-1, 60, 1)[:, :, -7:].permute(2, 0, 1, 3)
    assert not view.is_contiguous()
    norm = InstanceNorm()
    assert torch.equal(norm(view), norm(view.contiguous()))
