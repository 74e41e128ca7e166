"""CovarianceEstimator: NumPy reference, roots, gradients, float32 against float64."""

import numpy as np
import pytest
import torch

from deepalloc.data import make_windows, synthetic_market
from deepalloc.layers import CovarianceEstimator
from deepalloc.networks import default_covariance

B, C, A, L = 3, 2, 5, 12
EPS32 = torch.finfo(torch.float32).eps


@pytest.fixture
def x():
    return torch.randn(B, C, A, L, generator=torch.Generator().manual_seed(0))


def test_covariance_estimator(x):
    x64 = x.double()
    cov = CovarianceEstimator(output="covariance", returns_channel=1)(x64)
    ref = np.stack([np.cov(x64[b, 1].numpy()) for b in range(B)])
    np.testing.assert_allclose(cov.numpy(), ref, rtol=1e-10)
    for method in ("eigh", "cholesky"):
        s = CovarianceEstimator(sqrt_method=method, jitter=0.0, returns_channel=1)(x64)
        torch.testing.assert_close(s.transpose(1, 2) @ s, cov, rtol=1e-8, atol=1e-10)
    shrunk = CovarianceEstimator(
        "constant_correlation", 0.3, output="covariance", returns_channel=1
    )(x64)
    off = ~torch.eye(A, dtype=torch.bool)
    assert (shrunk.diagonal(dim1=1, dim2=2) - cov.diagonal(dim1=1, dim2=2)).abs().max() < 1e-12
    assert not torch.allclose(shrunk[:, off], cov[:, off])
    # near-singular windows (fewer steps than assets) still give finite gradients
    short = torch.randn(2, 1, 8, 4, dtype=torch.float64, requires_grad=True)
    s = CovarianceEstimator("diagonal")(short)
    s.sum().backward()
    assert torch.isfinite(short.grad).all()
    inp = torch.randn(2, 4, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    inp.requires_grad_(True)
    assert torch.autograd.gradcheck(CovarianceEstimator("identity", "ledoit_wolf"), (inp,))


@pytest.mark.parametrize("lookback", [40, 120])
def test_the_default_root_in_float32_equals_float64(lookback):
    # the mean-variance heads' risk model on the windows a network trains on (float32)
    returns = synthetic_market(lookback + 200, 20, seed=0)
    x = make_windows(returns, lookback=lookback, horizon=5).x[::4].contiguous()
    assert x.dtype == torch.float32
    estimator = default_covariance()
    root64 = estimator(x.double())
    root32 = estimator(x).double()
    cov64 = root64.transpose(1, 2) @ root64
    scale = cov64.abs().amax((1, 2))
    # S'S, what the allocators use: the Gram sums round over `lookback` terms and the
    # Cholesky factorisation over 20 (backward stable), relative to the largest entry
    cov32 = root32.transpose(1, 2) @ root32
    cov_error = ((cov32 - cov64).abs().amax((1, 2)) / scale).max().item()
    assert cov_error <= 4 * (lookback + 20) * EPS32
    # the factor itself moves by at most the condition number times that
    cond = torch.linalg.cond(cov64)
    root_error = (root32 - root64).abs().amax((1, 2)) / root64.abs().amax((1, 2))
    assert (root_error <= 4 * (lookback + 20) * EPS32 * cond).all()
