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
