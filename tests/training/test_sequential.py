"""Sequential training: the training path is the backtest's path, after costs."""

import functools

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from deepalloc.backtest import backtest
from deepalloc.data import SequentialLoader, holdout_split, make_windows, synthetic_market
from deepalloc.losses import MaxDrawdownLoss, SharpeLoss, TurnoverLoss
from deepalloc.training import evaluate_metrics, fit
from deepalloc.training.sequential import path_returns


class Momentum(nn.Module):
    """Weights from the window's recent returns, optionally leaning on the holdings."""

    def __init__(self, holdings_aware: bool):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(50.0, dtype=torch.float64))
        self.holdings_aware = holdings_aware

    def forward(self, x, previous_weights=None):
        w = torch.softmax(self.scale * x[:, 0, :, -5:].mean(-1), dim=-1)
        if previous_weights is None:
            return w
        invested = previous_weights.sum(-1, keepdim=True)
        kept = previous_weights / invested.clamp_min(1e-12)
        return torch.where(invested > 0, 0.6 * w + 0.4 * kept, w)


@pytest.fixture(scope="module")
def data():
    returns = synthetic_market(260, 4, seed=3, momentum=0.2)
    windows = make_windows(returns, lookback=10, horizon=5, dtype=torch.float64)
    return returns, windows


@pytest.mark.parametrize("holdings_aware", [False, True])
@pytest.mark.parametrize(("stride", "costs"), [(1, 0.0), (3, 25.0), (5, 10.0)])
def test_the_training_path_equals_the_backtest(data, holdings_aware, stride, costs):
    returns, windows = data
    block = np.arange(20, 200)
    loader = SequentialLoader(windows, block, run_length=None, stride=stride, costs_bps=costs)
    (batch,) = list(loader)
    path, weights = path_returns(Momentum(holdings_aware), batch, loader)
    dates = windows.timestamps[batch.samples[:, 0].numpy()]
    decisions = pd.DataFrame(weights[:, 0].detach().numpy(), index=dates, columns=returns.columns)
    expected = backtest(decisions, returns, costs_bps=costs).returns
    n_days = len(dates) * stride + 1
    assert path.shape == (1, n_days)
    np.testing.assert_allclose(path[0].detach().numpy(), expected.iloc[:n_days], rtol=0, atol=1e-12)


def test_holdings_reach_the_network_and_gradients_flow_through_them(data):
    _, windows = data
    loader = SequentialLoader(windows, np.arange(20, 120), run_length=6, stride=2, costs_bps=20)
    batch = next(iter(loader))
    net = Momentum(holdings_aware=True)
    path, weights = path_returns(net, batch, loader)
    assert path.shape == (len(batch.samples[0]), 6 * 2 + 1)
    # the second decision leans on the first: its weights differ from a fresh decision
    fresh = Momentum(holdings_aware=False)(batch.x[1])
    assert not torch.allclose(weights[1], fresh)
    path.sum().backward()
    assert net.scale.grad is not None and torch.isfinite(net.scale.grad)


def test_truncation_cuts_the_gradient_through_the_holdings(data):
    _, windows = data
    loader = SequentialLoader(windows, np.arange(20, 120), run_length=4, stride=2, costs_bps=20)
    cut = SequentialLoader(
        windows, np.arange(20, 120), run_length=4, stride=2, costs_bps=20, truncate_every=2
    )
    batch = next(iter(loader))
    grads = []
    for source in (loader, cut):
        net = Momentum(holdings_aware=True)
        path, _ = path_returns(net, batch, source)
        path[:, -1].sum().backward()  # the last day depends on earlier decisions via holdings
        grads.append(net.scale.grad.item())
    assert grads[0] != pytest.approx(grads[1])
    # the forward values are the same whatever the truncation
    p0, _ = path_returns(Momentum(True), batch, loader)
    p1, _ = path_returns(Momentum(True), batch, cut)
    torch.testing.assert_close(p0, p1, rtol=0, atol=0)


def test_runs_are_contiguous_and_shuffled_only_across_runs(data):
    _, windows = data
    loader = SequentialLoader(
        windows, np.arange(0, 150), run_length=5, stride=3, batch_size=4, shuffle=True, generator=0
    )
    seen = []
    for batch in loader:
        steps = np.diff(batch.samples.numpy(), axis=0)
        assert (steps == 3).all()  # in time order inside every run
        seen += batch.samples[0].tolist()
    assert len(set(seen)) == len(seen) and len(seen) >= 9
    again = [s for b in loader for s in b.samples[0].tolist()]
    assert again != seen  # another order (and offset) on the next pass


def test_fit_trains_on_the_after_cost_path_and_validates_on_it(data):
    _, windows = data
    fold = holdout_split(windows, test=0.2, val=0.25)
    train = SequentialLoader(
        windows,
        fold.train,
        run_length=8,
        stride=2,
        batch_size=4,
        shuffle=True,
        generator=0,
        costs_bps=50,
    )
    val = SequentialLoader(windows, fold.val, run_length=None, stride=2, costs_bps=50)
    net = Momentum(holdings_aware=True)
    loss = SharpeLoss() + 0.1 * MaxDrawdownLoss()
    before = evaluate_metrics(net, val, {"loss": loss})["loss"]
    result = fit(
        net,
        loss,
        train,
        val_loader=val,
        epochs=3,
        progress=False,
        seed=0,
        optimizer=functools.partial(torch.optim.Adam, lr=0.5),
    )
    scores = result.history.query("split == 'val' and metric == 'loss'")["value"]
    (batch,) = list(val)
    path, _ = path_returns(net, batch, val)
    # early stopping restored the best epoch, scored on the same after-cost path
    assert scores.min() == pytest.approx(float(loss.score(path.detach())[0]), rel=1e-9)
    assert scores.iloc[0] != pytest.approx(before)  # training moved the network
    with pytest.raises(TypeError, match="expected a loss on portfolio returns"):
        evaluate_metrics(net, val, {"turnover": TurnoverLoss()})


def test_bad_settings(data):
    _, windows = data
    with pytest.raises(ValueError, match="stride: expected at most the horizon 5"):
        SequentialLoader(windows, np.arange(10, 50), stride=6)
    with pytest.raises(ValueError, match="increasing"):
        SequentialLoader(windows, [1, 4, 2])
    with pytest.raises(ValueError, match="run_length: expected at most"):
        SequentialLoader(windows, np.arange(10, 20), run_length=20)
    with pytest.raises(ValueError, match="costs_bps"):
        SequentialLoader(windows, np.arange(10, 50), costs_bps=float("nan"))
    with pytest.raises(ValueError, match="generator"):
        SequentialLoader(windows, np.arange(10, 50), shuffle=True)


def test_runs_never_cross_a_gap_between_blocks(data):
    _, windows = data
    blocks = np.concatenate([np.arange(10, 60), np.arange(90, 150)])
    loader = SequentialLoader(
        windows, blocks, run_length=6, stride=4, batch_size=3, shuffle=True, generator=1
    )
    seen = [run for batch in loader for run in batch.samples.T.numpy()]
    assert seen
    for run in seen:
        assert (run[-1] < 60) or (run[0] >= 90)  # inside one block
        assert set(run) <= set(blocks.tolist())
