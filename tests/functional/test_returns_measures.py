"""Measures against independent NumPy references, in float64."""

import numpy as np
import pytest
import torch

from deepalloc.functional import measures as M
from deepalloc.functional.returns import drawdown, portfolio_returns, wealth

RNG = np.random.default_rng(0)
B, A, H = 6, 5, 40
# Tolerances: every quantity below is a sum or product of at most A * H = 200 float64
# terms of size <= 1, so its rounding error is at most ~200 eps = 4e-14 relative, on any
# kernel and summation order; rtol 1e-10 (1e-12 for sums of A terms) leaves a wide margin.
# atol covers values that cancel to about zero (alpha, costs of tiny trades).


def np_portfolio_returns(w, y, kind, rebalance, prev=None, cost=0.0):
    """Step-by-step simulation of holdings in currency units."""
    simple = np.expm1(y) if kind == "log" else y
    out = np.empty((w.shape[0], y.shape[-1]))
    for b in range(w.shape[0]):
        paid = 0.0 if prev is None else float(np.sum(cost * np.abs(w[b] - prev[b])))
        value = 1.0 - paid
        holdings = w[b] * value
        cash = value - holdings.sum()
        for h in range(y.shape[-1]):
            if rebalance and h > 0:
                holdings = w[b] * value
                cash = value - holdings.sum()
            holdings = holdings * (1 + simple[b, :, h])
            new_value = cash + holdings.sum()
            out[b, h] = new_value / (value if h > 0 else 1.0) - 1
            value = new_value
    return out


def np_max_drawdown(r):
    w = np.concatenate([[1.0], np.cumprod(1 + r)])
    return np.min(w / np.maximum.accumulate(w) - 1)


def make_inputs(kind):
    w = RNG.normal(0.2, 0.3, size=(B, A))  # long-short, not summing to one
    y = RNG.normal(0.001, 0.02, size=(B, A, H))
    if kind == "log":
        y = np.log1p(y)
    return w, y


@pytest.mark.parametrize("kind", ["simple", "log"])
@pytest.mark.parametrize("rebalance", [False, True])
def test_portfolio_returns_and_measures_match_numpy(kind, rebalance):
    w, y = make_inputs(kind)
    prev = RNG.normal(0.2, 0.2, size=(B, A))
    r = portfolio_returns(torch.tensor(w), torch.tensor(y), kind=kind, rebalance=rebalance)
    ref = np_portfolio_returns(w, y, kind, rebalance)
    np.testing.assert_allclose(r.numpy(), ref, rtol=1e-10, atol=1e-12)
    r_cost = portfolio_returns(
        torch.tensor(w),
        torch.tensor(y),
        kind=kind,
        rebalance=rebalance,
        previous_weights=torch.tensor(prev),
        costs_bps=20.0,
    )
    np.testing.assert_allclose(
        r_cost.numpy(), np_portfolio_returns(w, y, kind, rebalance, prev, 0.002), atol=1e-12
    )

    bench = np_portfolio_returns(np.full((B, A), 1 / A), y, kind, rebalance)
    rt, bt = torch.tensor(ref), torch.tensor(bench)
    eps = 1e-8
    below = np.minimum(ref - 0.001, 0)
    beta_ref = np.array(
        [np.cov(ref[b], bench[b], ddof=0)[0, 1] / np.var(bench[b]) for b in range(B)]
    )
    k = int((H - 1) * 0.1) + 1  # empyrical's tail: the int((n - 1) cutoff)-th order statistic
    expected = {
        "mean": (M.mean_return(rt), ref.mean(1)),
        "vol": (M.volatility(rt), ref.std(1)),
        "vol1": (M.volatility(rt, ddof=1), ref.std(1, ddof=1)),
        "sharpe": (
            M.sharpe_ratio(rt, risk_free=1e-4),
            (ref - 1e-4).mean(1) / np.sqrt(ref.var(1) + eps),
        ),
        "sortino": (
            M.sortino_ratio(rt, target=0.001),
            (ref - 0.001).mean(1) / np.sqrt((below**2).mean(1) + eps),
        ),
        "downside": (M.downside_risk(rt, target=0.001), np.sqrt((below**2).mean(1))),
        "cumret": (M.cumulative_return(rt), np.prod(1 + ref, 1) - 1),
        "mdd": (M.max_drawdown(rt), np.array([np_max_drawdown(x) for x in ref])),
        "var": (M.value_at_risk(rt, confidence=0.9), np.percentile(ref, 10, axis=1)),
        "cvar": (M.conditional_value_at_risk(rt, confidence=0.9), np.sort(ref, 1)[:, :k].mean(1)),
        "worst": (M.worst_return(rt), ref.min(1)),
        "beta": (M.beta(rt, bt), beta_ref),
        "alpha": (M.alpha(rt, bt), ref.mean(1) - beta_ref * bench.mean(1)),
    }
    for name, (got, want) in expected.items():
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-14, err_msg=name)


def test_weight_measures_match_numpy():
    w = RNG.normal(size=(B, A))
    prev = RNG.normal(size=(B, A))
    cov = RNG.normal(size=(B, A, A))
    cov = cov @ cov.transpose(0, 2, 1) + np.eye(A)
    wt = torch.tensor(w)
    np.testing.assert_allclose(M.concentration(wt).numpy(), (w**2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(M.largest_weight(wt).numpy(), np.abs(w).max(1), rtol=1e-12)
    np.testing.assert_allclose(
        M.turnover(wt, torch.tensor(prev)).numpy(), np.abs(w - prev).sum(1), rtol=1e-12
    )
    rc = np.stack([w[b] * (cov[b] @ w[b]) / (w[b] @ cov[b] @ w[b]) for b in range(B)])
    budgets = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    got = M.risk_contribution_deviation(wt, torch.tensor(cov), torch.tensor(budgets))
    np.testing.assert_allclose(got.numpy(), ((rc - budgets) ** 2).sum(1), rtol=1e-10)
    np.testing.assert_allclose(M.risk_contributions(wt, torch.tensor(cov)).sum(-1).numpy(), 1.0)


def test_first_step_loss_counts_in_drawdown():
    r = torch.tensor([[-0.1, 0.05, 0.05]], dtype=torch.float64)
    np.testing.assert_allclose(M.max_drawdown(r).numpy(), [-0.1])
    np.testing.assert_allclose(drawdown(r)[0, 0].item(), -0.1)
    np.testing.assert_allclose(wealth(r, 2.0)[0].numpy(), 2 * np.cumprod([0.9, 1.05, 1.05]))


def test_sharpe_at_horizon_one_is_finite_with_finite_gradient():
    r = torch.tensor([[0.01], [-0.02]], dtype=torch.float64, requires_grad=True)
    s = M.sharpe_ratio(r)
    assert torch.isfinite(s).all()
    np.testing.assert_allclose(s.detach().numpy(), [0.01 / 1e-4, -0.02 / 1e-4])
    s.sum().backward()
    assert torch.isfinite(r.grad).all()


def test_sortino_downside_is_measured_against_target():
    r = torch.tensor([[0.01, 0.02, 0.03]], dtype=torch.float64)
    # all returns are positive, but two are below a 2.5% target: the downside is not zero
    assert M.downside_risk(r, target=0.025).item() > 0
    expected = (0.02 - 0.025) / np.sqrt((0.015**2 + 0.005**2) / 3 + 1e-8)
    np.testing.assert_allclose(M.sortino_ratio(r, target=0.025).item(), expected, rtol=1e-12)


def test_shape_errors():
    with pytest.raises(ValueError, match="weights: expected a 2-d tensor"):
        portfolio_returns(torch.ones(3), torch.ones(3, 2, 4))
    with pytest.raises(ValueError, match="expected the same asset size, got weights=3, y=2"):
        portfolio_returns(torch.ones(1, 3), torch.ones(1, 2, 4))
    with pytest.raises(ValueError, match="kind: expected one of"):
        portfolio_returns(torch.ones(1, 2), torch.ones(1, 2, 4), kind="pct")
    with pytest.raises(ValueError, match="confidence: expected a level in"):
        M.value_at_risk(torch.ones(1, 4), confidence=95)
