import pytest
import torch

from deepalloc.allocators import MarkowitzAllocator, SparsemaxAllocator, TanhAllocator
from deepalloc.data import WindowLoader, make_windows, sine_market
from deepalloc.functional.returns import portfolio_returns
from deepalloc.losses import SharpeLoss
from deepalloc.networks import (
    AttentionNet,
    ConvNet,
    DenseNet,
    GRUNet,
    LSTMMarkowitzNet,
    LSTMNet,
    StackedLSTMNet,
    TCNMarkowitzNet,
    TCNNet,
)

LOOKBACK = 40

NETWORKS = {
    "dense": lambda: DenseNet(1, LOOKBACK),
    "conv": lambda: ConvNet(1, LOOKBACK),
    "conv_markowitz": lambda: ConvNet(1, LOOKBACK, allocator=MarkowitzAllocator(max_weight=0.5)),
    "lstm": lambda: LSTMNet(1),
    "gru": lambda: GRUNet(1),
    "stacked_lstm": lambda: StackedLSTMNet(1),
    "lstm_markowitz": lambda: LSTMMarkowitzNet(1, max_weight=0.5),
    "attention": lambda: AttentionNet(1),
    "tcn": lambda: TCNNet(1),
    "tcn_markowitz": lambda: TCNMarkowitzNet(1, max_weight=0.5),
}


@pytest.fixture(scope="module")
def market():
    returns = sine_market(700, 6, seed=1, amplitude=0.01, noise=0.005)
    return make_windows(returns, lookback=LOOKBACK, horizon=5)


@pytest.mark.parametrize("name", list(NETWORKS))
def test_shapes_equivariance_and_other_asset_counts(name, market):
    torch.manual_seed(0)
    net = NETWORKS[name]().eval()
    x = market.x[:8]
    w = net(x)
    assert w.shape == (8, 6)
    torch.testing.assert_close(w.sum(-1), torch.ones(8), atol=1e-5, rtol=0)
    perm = torch.tensor([5, 3, 0, 1, 4, 2])
    torch.testing.assert_close(net(x[:, :, perm]), w[:, perm], atol=1e-5, rtol=1e-4)
    wider = torch.cat([x, x[:, :, :3] * 1.1], dim=2)
    assert net(wider).shape == (8, 9)
    net.train()
    SharpeLoss()(net(x), market.y[:8]).mean().backward()
    for pname, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("name", list(NETWORKS))
def test_training_lowers_loss_and_beats_equal_weight(name, market):
    torch.manual_seed(0)
    net = NETWORKS[name]()
    loss_fn = SharpeLoss()
    x, y = market.x, market.y

    def full_loss():
        with torch.no_grad():
            return loss_fn(net(x), y).mean().item()

    before = full_loss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loader = WindowLoader(market, batch_size=64, shuffle=True, generator=0)
    steps = 0
    while steps < 40:
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(net(xb), yb).mean().backward()
            opt.step()
            steps += 1
            if steps == 40:
                break
    after = full_loss()
    assert after < before - 0.5
    with torch.no_grad():
        mean_net = portfolio_returns(net(x), y[:, 0]).mean().item() * 252
    mean_ew = portfolio_returns(torch.full((len(x), 6), 1 / 6), y[:, 0]).mean().item() * 252
    assert mean_net > mean_ew + 0.5  # annualised, on a signal equal weight cannot use


def test_any_score_allocator_fits_and_bad_allocator_rejected(market):
    torch.manual_seed(0)
    w = LSTMNet(1, allocator=TanhAllocator(net=0.0))(market.x[:4])
    torch.testing.assert_close(w.sum(-1), torch.zeros(4), atol=1e-5, rtol=0)
    assert (DenseNet(1, LOOKBACK, allocator=SparsemaxAllocator())(market.x[:4]) >= 0).all()
    with pytest.raises(ValueError, match="allocator: expected one taking"):
        LSTMMarkowitzNet(1, allocator=SparsemaxAllocator())


def test_markowitz_head_gives_the_same_weights_with_either_covariance_root(market):
    from deepalloc.layers import CovarianceEstimator

    torch.manual_seed(0)
    net = LSTMMarkowitzNet(1, max_weight=0.5).double().eval()
    x = market.x[:16].double()
    assert net.head.covariance.sqrt_method == "cholesky"
    w_chol = net(x)
    net.head.covariance = CovarianceEstimator("diagonal", "ledoit_wolf", sqrt_method="eigh")
    w_eigh = net(x)
    torch.testing.assert_close(w_chol, w_eigh, rtol=0, atol=1e-8)
    assert (w_eigh > 1e-6).sum(-1).min() >= 2  # a real mix of assets, not a corner


HOLDINGS_AWARE = {
    "dense": lambda: DenseNet(1, LOOKBACK, holdings_aware=True),
    "conv": lambda: ConvNet(1, LOOKBACK, holdings_aware=True),
    "lstm": lambda: LSTMNet(1, holdings_aware=True),
    "lstm_markowitz": lambda: LSTMMarkowitzNet(1, max_weight=0.5, holdings_aware=True),
    "attention": lambda: AttentionNet(1, holdings_aware=True),
    "tcn": lambda: TCNNet(1, holdings_aware=True),
    "tcn_markowitz": lambda: TCNMarkowitzNet(1, max_weight=0.5, holdings_aware=True),
}


@pytest.mark.parametrize("name", list(HOLDINGS_AWARE))
def test_holdings_aware_networks_see_what_they_hold(name, market):
    torch.manual_seed(0)
    net = HOLDINGS_AWARE[name]().double().eval()
    assert net.holdings_aware and not NETWORKS[name]().holdings_aware
    x = market.x[:8].double()
    held = torch.softmax(torch.randn(8, 6, dtype=torch.float64), -1)
    with torch.no_grad():
        w_cash, w_held = net(x), net(x, previous_weights=held)
        w_zero = net(x, previous_weights=torch.zeros_like(held))
    torch.testing.assert_close(w_cash, w_zero)  # no holdings given: decided as from cash
    assert not torch.allclose(w_cash, w_held, atol=1e-6)
    torch.testing.assert_close(w_held.sum(-1), torch.ones(8, dtype=torch.float64))
    perm = torch.tensor([5, 3, 0, 1, 4, 2])
    with torch.no_grad():
        permuted = net(x[:, :, perm], previous_weights=held[:, perm])
    torch.testing.assert_close(permuted, w_held[:, perm], atol=1e-6, rtol=1e-5)
    held.requires_grad_(True)
    net(x, previous_weights=held).pow(2).sum().backward()
    assert held.grad is not None and held.grad.abs().sum() > 0


def test_cost_rate_head_is_the_bounded_multiplier_of_the_base_rate():
    from deepalloc.networks import CostRateHead

    head = CostRateHead(3, MarkowitzAllocator(trading_cost="proportional", kappa=0.002))
    features = torch.randn(2, 3, 4, dtype=torch.float64)
    base = torch.tensor([0.001, 0.002, 0.003, 0.004], dtype=torch.float64)
    head.double()
    torch.testing.assert_close(head(features, base), base.expand(2, 4))  # starts at the base
    with torch.no_grad():
        head.logit.weight.copy_(torch.tensor([[0.5, -1.0, 2.0]]))
        head.logit.bias.fill_(0.3)
    a = torch.einsum("f,bfn->bn", head.logit.weight[0], features) + 0.3
    expected = base * 10.0 ** torch.tanh(a)
    torch.testing.assert_close(head(features, base), expected, rtol=1e-12, atol=0)
    assert bool((expected <= 10 * base).all() and (expected >= base / 10).all())


@pytest.mark.parametrize("net_class", [LSTMMarkowitzNet, TCNMarkowitzNet])
def test_networks_predict_the_trading_cost_rate(net_class, market):
    torch.manual_seed(0)

    def build(kappa):
        allocator = MarkowitzAllocator(max_weight=0.5, trading_cost="proportional", kappa=kappa)
        return net_class(1, allocator=allocator, holdings_aware=True, predict_kappa=True)

    x = market.x[:8].double()
    held = torch.softmax(0.5 * torch.randn(8, 6, dtype=torch.float64), -1)  # all < 0.5
    assert float(held.max()) < 0.5
    net = build(0.002).double().eval()
    fixed = (
        net_class(
            1,
            allocator=MarkowitzAllocator(max_weight=0.5, trading_cost="proportional", kappa=0.002),
            holdings_aware=True,
        )
        .double()
        .eval()
    )
    fixed.load_state_dict(net.state_dict(), strict=False)
    with torch.no_grad():  # zero-initialised: the allocator's own rate
        torch.testing.assert_close(net(x, previous_weights=held), fixed(x, previous_weights=held))
    # a rate predicted 10x the base puts every asset in its no-trade region: w = held
    with torch.no_grad():
        net.head.cost_rates.logit.bias.fill_(50.0)
        kept = net(x, previous_weights=held)
    torch.testing.assert_close(kept, held, rtol=0, atol=1e-12)
    # the rate is learned: the loss reaches the rate head's parameters
    with torch.no_grad():
        net.head.cost_rates.logit.bias.fill_(0.0)
    net.train()
    w = net(x, previous_weights=held)
    (w * torch.randn_like(w)).sum().backward()
    assert net.head.cost_rates.logit.bias.grad is not None
    assert float(net.head.cost_rates.logit.bias.grad.abs()) > 0


def test_predicted_cost_rates_need_holdings_and_a_priced_allocator():
    with pytest.raises(ValueError, match="holdings_aware=True"):
        LSTMMarkowitzNet(
            1,
            allocator=MarkowitzAllocator(trading_cost="proportional", kappa=0.001),
            predict_kappa=True,
        )
    with pytest.raises(ValueError, match="without trading costs"):
        LSTMMarkowitzNet(1, holdings_aware=True, predict_kappa=True)
    per_asset = MarkowitzAllocator(trading_cost="proportional", kappa=[0.001] * 5)
    net = TCNMarkowitzNet(1, allocator=per_asset, holdings_aware=True, predict_kappa=True)
    with pytest.raises(ValueError, match="per-asset rate for 6 assets, got 5 rates"):
        net(torch.randn(2, 1, 6, LOOKBACK))
    with pytest.raises(ValueError, match="base rate"):
        TCNMarkowitzNet(
            1,
            allocator=MarkowitzAllocator(trading_cost="quadratic", kappa=0.0),
            holdings_aware=True,
            predict_kappa=True,
        )
