import numpy as np
import pytest
import torch

import deepalloc.losses as L
from deepalloc.functional import measures as M
from deepalloc.functional.returns import portfolio_returns

RNG = np.random.default_rng(1)
B, A, H = 4, 5, 12


def inputs(requires_grad=False):
    w = torch.tensor(RNG.dirichlet(np.ones(A), size=B), requires_grad=requires_grad)
    y = torch.tensor(RNG.normal(0.001, 0.02, size=(B, 2, A, H)))
    return w, y


ALL_LOSSES = [
    L.SharpeLoss(),
    L.SortinoLoss(target=0.001),
    L.MeanReturnLoss(),
    L.CumulativeReturnLoss(),
    L.VolatilityLoss(),
    L.MaxDrawdownLoss(),
    L.VaRLoss(q=0.9),
    L.CVaRLoss(q=0.9),
    L.WorstReturnLoss(),
    L.DownsideRiskLoss(),
    L.TargetReturnLoss(target=0.002),
    L.TargetVolatilityLoss(target=0.01),
    L.ConcentrationLoss(),
    L.LargestWeightLoss(),
    L.TurnoverLoss(),
    L.TurnoverLoss(previous_weights=torch.full((A,), 1.0 / A, dtype=torch.float64)),
    L.RiskParityLoss(),
    L.AlphaLoss(),
    L.SharpeLoss(kind="log", rebalance=True),
    L.SharpeLoss() + 0.5 * L.MaxDrawdownLoss() - L.VolatilityLoss() / 3,
]


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_gradcheck(loss):
    w, y = inputs(requires_grad=True)
    assert loss(w, y).shape == (B,)
    assert torch.autograd.gradcheck(lambda w: loss(w, y), (w,), eps=1e-6, atol=1e-5)


def test_losses_are_negated_measures():
    w, y = inputs()
    r = portfolio_returns(w, y[:, 0])
    pairs = [
        (L.SharpeLoss(), -M.sharpe_ratio(r)),
        (L.MeanReturnLoss(), -M.mean_return(r)),
        (L.MaxDrawdownLoss(), M.max_drawdown(r)),
        (L.CVaRLoss(), M.conditional_value_at_risk(r)),
        (L.WorstReturnLoss(), -M.worst_return(r)),
    ]
    for loss, want in pairs:
        torch.testing.assert_close(loss(w, y), want)
    r1 = portfolio_returns(w, y[:, 1])
    torch.testing.assert_close(L.SharpeLoss(returns_channel=1)(w, y), -M.sharpe_ratio(r1))


def test_composition_values_and_repr():
    w, y = inputs()
    a, b, c = L.SharpeLoss(), L.MaxDrawdownLoss(), L.VolatilityLoss()
    combo = a + 0.5 * b
    assert repr(combo) == "SharpeLoss() + 0.5 * MaxDrawdownLoss()"
    torch.testing.assert_close(combo(w, y), a(w, y) + 0.5 * b(w, y))
    diff = a - b
    assert repr(diff) == "SharpeLoss() - MaxDrawdownLoss()"
    torch.testing.assert_close(diff(w, y), a(w, y) - b(w, y))
    third = (a - c) / 3
    assert repr(third) == "(SharpeLoss() - VolatilityLoss()) / 3"
    torch.testing.assert_close(third(w, y), (a(w, y) - c(w, y)) / 3)
    assert repr(-a) == "-SharpeLoss()"
    assert repr(L.VaRLoss(q=0.99) + L.SortinoLoss()) == "VaRLoss(q=0.99) + SortinoLoss()"
    assert repr(sum([a, b])) == "SharpeLoss() + MaxDrawdownLoss()"
    assert isinstance(combo, L.Sum) and isinstance(combo.terms[1], L.Scale)


def test_inconsistent_settings_rejected():
    with pytest.raises(ValueError, match="read y the same way"):
        L.SharpeLoss(kind="log") + L.MaxDrawdownLoss()


def test_bad_inputs():
    w, y = inputs()
    with pytest.raises(ValueError, match="y: expected a 4-d tensor"):
        L.SharpeLoss()(w, y[:, 0])
    with pytest.raises(ValueError, match="expected the same asset size"):
        L.SharpeLoss()(w[:, :3], y)
    with pytest.raises(ValueError, match="returns_channel: expected an index into y's 2 channels"):
        L.SharpeLoss(returns_channel=2)(w, y)
