import cvxpy as cp
import numpy as np
import pytest
import torch

from deepalloc import baselines as B
from deepalloc.data import make_windows, prices_to_returns
from deepalloc.datasets import load_sp500
from deepalloc.functional.measures import risk_contributions

TIGHT = {"solver": "CLARABEL", "tol_gap_abs": 1e-12, "tol_gap_rel": 1e-12, "tol_feas": 1e-12}


@pytest.fixture(scope="module")
def x():
    r = prices_to_returns(load_sp500()).iloc[-400:, :8]
    return make_windows(r, lookback=120, horizon=1, dtype=torch.float64).x[::90]


ALL = [
    B.EqualWeight(),
    B.InverseVolatility(),
    B.MinimumVariance(),
    B.MinimumVariance("constant_correlation", 0.5, max_weight=0.3),
    B.MaximumSharpe(),
    B.RiskParity(),
    B.HierarchicalRiskParity(),
    B.MaximumReturn(0.3),
    B.RandomWeights(seed=0),
    B.SingleAsset(2),
    B.FixedWeights([0.125] * 8),
]


@pytest.mark.parametrize("rule", ALL, ids=lambda r: type(r).__name__)
def test_long_only_budget(rule, x):
    w = rule(x)
    assert w.shape == (x.shape[0], 8) and w.dtype == x.dtype
    torch.testing.assert_close(w.sum(-1), torch.ones(x.shape[0], dtype=x.dtype))
    assert (w >= -1e-9).all()
    assert rule(x.float()).dtype == torch.float32


def sample_cov(x):
    return np.stack([np.cov(s[0].numpy()) for s in x])


def test_inverse_volatility_and_min_variance_match_references(x):
    std = x[:, 0].numpy().std(-1, ddof=1)
    np.testing.assert_allclose(
        B.InverseVolatility()(x).numpy(), (1 / std) / (1 / std).sum(1, keepdims=True)
    )
    w = B.MinimumVariance()(x).numpy()
    for i, c in enumerate(sample_cov(x)):
        v = cp.Variable(8)
        cp.Problem(cp.Minimize(cp.quad_form(v, c)), [cp.sum(v) == 1, v >= 0]).solve(**TIGHT)
        np.testing.assert_allclose(w[i], v.value, atol=1e-6)


def test_maximum_sharpe_matches_reference_and_falls_back(x):
    w = B.MaximumSharpe()(x).numpy()
    mu = x[:, 0].numpy().mean(-1)
    for i, c in enumerate(sample_cov(x)):
        y = cp.Variable(8)
        cp.Problem(cp.Minimize(cp.quad_form(y, c)), [mu[i] @ y == 1, y >= 0]).solve(**TIGHT)
        np.testing.assert_allclose(w[i], y.value / y.value.sum(), atol=1e-5)
    losing = -x.abs() - 1e-4  # every mean negative
    out = B.MaximumSharpe()(losing)
    assert ((out == 0) | (out == 1)).all()


def test_risk_parity_equalises_contributions(x):
    w = B.RiskParity()(x)
    cov = torch.tensor(sample_cov(x))
    rc = risk_contributions(w, cov)
    assert (rc - 1 / 8).abs().max() < 1e-6


def test_hierarchical_risk_parity_on_two_clusters():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 500))
    scale = np.array([1.0, 2.0, 1.0, 3.0])
    series = (
        np.stack([a, a + 0.1 * rng.normal(size=500), b, b + 0.1 * rng.normal(size=500)])
        * scale[:, None]
    )
    x = torch.tensor(series)[None, None]
    w = B.HierarchicalRiskParity()(x).numpy()[0]
    c = np.cov(series)

    def ivp_var(idx):
        sub = c[np.ix_(idx, idx)]
        ivp = (1 / np.diag(sub)) / (1 / np.diag(sub)).sum()
        return ivp @ sub @ ivp

    v1, v2 = ivp_var([0, 1]), ivp_var([2, 3])
    alpha = 1 - v1 / (v1 + v2)
    expected = np.array(
        [
            alpha * (1 - c[0, 0] / (c[0, 0] + c[1, 1])),
            alpha * (1 - c[1, 1] / (c[0, 0] + c[1, 1])),
            (1 - alpha) * (1 - c[2, 2] / (c[2, 2] + c[3, 3])),
            (1 - alpha) * (1 - c[3, 3] / (c[2, 2] + c[3, 3])),
        ]
    )
    np.testing.assert_allclose(w, expected, rtol=1e-10)


def test_maximum_return_random_single_fixed(x):
    w = B.MaximumReturn(0.3)(x)
    mu = x[:, 0].mean(-1)
    top = mu.argsort(-1, descending=True)
    torch.testing.assert_close(
        w.gather(-1, top[:, :4]), torch.tensor([[0.3, 0.3, 0.3, 0.1]] * x.shape[0], dtype=x.dtype)
    )
    r1, r2 = B.RandomWeights(seed=4), B.RandomWeights(seed=4)
    torch.testing.assert_close(r1(x), r2(x))
    assert not torch.allclose(r1(x), r1(x))
    with pytest.raises(ValueError, match="index: expected an asset position"):
        B.SingleAsset(9)(x)
    with pytest.raises(ValueError, match="expected 8 weights"):
        B.FixedWeights([0.5, 0.5])(x)
