"""Risk models: covariance, Ledoit-Wolf shrinkage and matrix roots against NumPy."""

import numpy as np
import pytest
import torch

from deepalloc.functional.risk import (
    covariance,
    ledoit_wolf_intensity,
    matrix_sqrt,
    shrink,
    shrunk_covariance,
)

TARGETS = ["identity", "diagonal", "constant_correlation"]


def np_ledoit_wolf(x, target):
    """Loop reference of the Ledoit-Wolf intensity for one sample, x (asset, time)."""
    n, t = x.shape
    xc = x - x.mean(1, keepdims=True)
    s = xc @ xc.T / t
    pi = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            pi[i, j] = np.mean((xc[i] * xc[j] - s[i, j]) ** 2)
    var = np.diag(s)
    sd = np.sqrt(var)
    if target == "identity":
        f = np.eye(n) * var.mean()
        rho = 0.0
    elif target == "diagonal":
        f = np.diag(var)
        rho = np.trace(pi)
    else:
        rbar = (np.sum(s / np.outer(sd, sd)) - n) / (n * (n - 1))
        f = rbar * np.outer(sd, sd)
        np.fill_diagonal(f, var)
        rho = np.trace(pi)
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                th_ii = np.mean((xc[i] ** 2 - s[i, i]) * (xc[i] * xc[j] - s[i, j]))
                th_jj = np.mean((xc[j] ** 2 - s[j, j]) * (xc[i] * xc[j] - s[i, j]))
                rho += (
                    rbar / 2 * (np.sqrt(var[j] / var[i]) * th_ii + np.sqrt(var[i] / var[j]) * th_jj)
                )
    gamma = np.sum((f - s) ** 2)
    return float(np.clip((pi.sum() - rho) / gamma / t, 0, 1))


@pytest.mark.parametrize("target", ["identity", "diagonal", "constant_correlation"])
def test_ledoit_wolf_intensity_matches_reference(target):
    rng = np.random.default_rng(0)
    common = rng.normal(size=(4, 1, 30))
    returns = common + rng.normal(size=(4, 6, 30)) * rng.uniform(0.5, 2, size=(4, 6, 1))
    got = ledoit_wolf_intensity(torch.tensor(returns), target).numpy()
    want = [np_ledoit_wolf(r, target) for r in returns]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert ((np.array(want) > 0) & (np.array(want) < 1)).any()


def np_target(s, target):
    """Shrinkage target of one covariance ``s`` (asset, asset), NumPy."""
    n = len(s)
    var = np.diag(s)
    if target == "identity":
        return np.eye(n) * var.mean()
    if target == "diagonal":
        return np.diag(var)
    sd = np.sqrt(var)
    rbar = (np.sum(s / np.outer(sd, sd)) - n) / (n * (n - 1))
    f = rbar * np.outer(sd, sd)
    np.fill_diagonal(f, var)
    return f


def correlated_returns(seed, batch=4, assets=6, steps=30):
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(batch, 1, steps))
    scale = rng.uniform(0.5, 2, size=(batch, assets, 1))
    return common + rng.normal(size=(batch, assets, steps)) * scale


@pytest.mark.parametrize("target", [None, *TARGETS])
@pytest.mark.parametrize("intensity", ["ledoit_wolf", 0.0, 0.3, 1.0])
def test_shrunk_covariance_matches_the_reference(target, intensity):
    returns = correlated_returns(1)
    got = shrunk_covariance(torch.tensor(returns), target, intensity).numpy()
    for r, cov in zip(returns, got, strict=True):
        s = np.cov(r)  # ddof 1
        if target is not None:
            d = np_ledoit_wolf(r, target) if intensity == "ledoit_wolf" else intensity
            s = (1 - d) * s + d * np_target(s, target)
        # float64: sums of 30 products of O(1) values
        np.testing.assert_allclose(cov, s, rtol=1e-12, atol=1e-13)


def test_shrunk_covariance_is_the_composition_of_its_parts():
    returns = torch.tensor(correlated_returns(2))
    for target in TARGETS:
        delta = ledoit_wolf_intensity(returns, target)
        want = shrink(covariance(returns), target, delta)
        torch.testing.assert_close(shrunk_covariance(returns, target), want, rtol=0, atol=1e-14)
    torch.testing.assert_close(
        shrunk_covariance(returns, ddof=0), covariance(returns, ddof=0), rtol=0, atol=0
    )


def test_shrunk_covariance_rejects_bad_settings():
    returns = torch.randn(2, 3, 10, dtype=torch.float64)
    with pytest.raises(ValueError, match="target"):
        shrunk_covariance(returns, "ridge")
    with pytest.raises(ValueError, match="intensity"):
        shrunk_covariance(returns, "diagonal", "oas")
    with pytest.raises(ValueError, match="time steps"):
        shrunk_covariance(returns[..., :1], "diagonal")


@pytest.mark.parametrize("method", ["eigh", "cholesky"])
def test_matrix_sqrt_adds_the_relative_jitter(method):
    cov = torch.tensor(np.cov(correlated_returns(3)[0]))[None]
    jitter = 1e-3
    root = matrix_sqrt(cov, method=method, jitter=jitter)
    want = cov + jitter * cov.diagonal(dim1=1, dim2=2).mean() * torch.eye(6, dtype=cov.dtype)
    torch.testing.assert_close(root.transpose(1, 2) @ root, want, rtol=1e-12, atol=1e-14)


def test_cholesky_root_falls_back_to_the_symmetric_root_when_only_semidefinite():
    rng = np.random.default_rng(3)
    cov = torch.tensor(np.cov(rng.normal(size=(3, 5, 40))[0]))[None].repeat(3, 1, 1)
    cov[1] = 0.0  # constant prices: no positive definite factor exists
    cov[2, 0, :] = cov[2, :, 0] = 0.0  # one asset without variance
    root = matrix_sqrt(cov, method="cholesky", jitter=0.0)
    torch.testing.assert_close(root.transpose(1, 2) @ root, cov, rtol=1e-8, atol=1e-12)
    # the positive definite sample keeps its triangular factor
    assert torch.equal(root[0], torch.triu(root[0]))
    torch.testing.assert_close(root[1], torch.zeros(5, 5, dtype=torch.float64))
