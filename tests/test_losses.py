import numpy as np
import pytest
import torch

import deepalloc.losses as L
from deepalloc.errors import NonFiniteError
from deepalloc.functional import measures as M
from deepalloc.functional.returns import portfolio_returns

RNG = np.random.default_rng(1)
B, A, H = 4, 5, 12


def inputs(requires_grad=False, channels=1):
    w = torch.tensor(RNG.dirichlet(np.ones(A), size=B), requires_grad=requires_grad)
    y = torch.tensor(RNG.normal(0.001, 0.02, size=(B, channels, A, H)))
    return w, y


ALL_LOSSES = [
    L.SharpeLoss(),
    L.SortinoLoss(target=0.001),
    L.MeanReturnLoss(),
    L.CumulativeReturnLoss(),
    L.VolatilityLoss(),
    L.MaxDrawdownLoss(),
    L.VaRLoss(confidence=0.9),
    L.CVaRLoss(confidence=0.9),
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
        (L.MaxDrawdownLoss(), -M.max_drawdown(r)),
        (L.CVaRLoss(), -M.conditional_value_at_risk(r)),
        (L.VaRLoss(), -M.value_at_risk(r)),
        (L.WorstReturnLoss(), -M.worst_return(r)),
    ]
    for loss, want in pairs:
        torch.testing.assert_close(loss(w, y), want)
    w, y2 = inputs(channels=2)
    r1 = portfolio_returns(w, y2[:, 1])
    torch.testing.assert_close(L.SharpeLoss(returns_channel=1)(w, y2), -M.sharpe_ratio(r1))


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
    assert repr(L.VaRLoss(confidence=0.99) + L.SortinoLoss()) == (
        "VaRLoss(confidence=0.99) + SortinoLoss()"
    )
    assert repr(sum([a, b])) == "SharpeLoss() + MaxDrawdownLoss()"
    assert isinstance(combo, L.Sum) and isinstance(combo.terms[1], L.Scale)


def test_inconsistent_settings_rejected():
    with pytest.raises(ValueError, match="read y the same way"):
        L.SharpeLoss(kind="log") + L.MaxDrawdownLoss()


def test_bad_inputs():
    w, y = inputs(channels=2)
    with pytest.raises(ValueError, match="y: expected a 4-d tensor"):
        L.SharpeLoss()(w, y[:, 0])
    with pytest.raises(ValueError, match="expected the same asset size"):
        L.SharpeLoss()(w[:, :3], y)
    with pytest.raises(ValueError, match="returns_channel: expected an index into the 2 channels"):
        L.SharpeLoss(returns_channel=2)(w, y)
    with pytest.raises(ValueError, match="which channel holds the returns is ambiguous"):
        L.SharpeLoss()(w, y)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=repr)
def test_repr_round_trips(loss):
    namespace = {"torch": torch, **{name: getattr(L, name) for name in L.__all__}}
    again = eval(repr(loss), namespace)
    assert repr(again) == repr(loss)
    w, y = inputs()
    torch.testing.assert_close(again(w, y), loss(w, y))


def test_settings_are_keyword_only_and_shown():
    loss = L.SharpeLoss(kind="log", rebalance=True)
    assert repr(loss) == "SharpeLoss(kind='log', rebalance=True)"
    assert loss == L.SharpeLoss(rebalance=True, kind="log") and loss != L.SharpeLoss()
    with pytest.raises(TypeError):
        L.SharpeLoss(0.01)  # type: ignore[misc]
    with pytest.raises(TypeError):
        L.SharpeLoss(q=0.9)  # type: ignore[call-arg]


@pytest.mark.parametrize("bad", ["weights", "y"])
def test_non_finite_inputs_name_the_argument_and_sample(bad):
    w, y = inputs()
    if bad == "weights":
        w[2, 1] = float("nan")
    else:
        y[3, 0, 1, 4] = float("inf")
    with pytest.raises(NonFiniteError, match=f"{bad}: expected finite values") as info:
        L.SharpeLoss()(w, y)
    assert info.value.argument == bad and info.value.samples == [2 if bad == "weights" else 3]


def test_cvar_loss_and_metric_keep_the_same_tail():
    # H = 7 at confidence 0.7: ceil(0.3 * 7) = 3 returns, but empyrical keeps
    # int(6 * 0.3) + 1 = 2; the loss and the reporting metric must agree
    import pandas as pd

    from deepalloc import metrics

    r = torch.tensor([[0.03, -0.05, 0.01, -0.02, 0.04, -0.01, 0.02]], dtype=torch.float64)
    series = pd.Series(r[0].numpy(), index=pd.bdate_range("2020-01-01", periods=7))
    loss = L.CVaRLoss(confidence=0.7).score(r)
    assert float(loss) == pytest.approx(-metrics.conditional_value_at_risk(series, confidence=0.7))
    assert float(loss) == pytest.approx((0.05 + 0.02) / 2)
