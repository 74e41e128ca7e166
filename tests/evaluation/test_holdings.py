"""Holdings-aware networks decide along the backtest's own, continuous portfolio."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from deepalloc.backtest import backtest
from deepalloc.data import make_windows, synthetic_market, walk_forward_folds
from deepalloc.evaluation import NetworkStrategy, SequentialTraining, run_suite
from deepalloc.evaluation.holdings import holdings_aware_weights
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet


class Leaning(nn.Module):
    """Softmax of recent returns, leaning on what it holds."""

    holdings_aware = True

    def __init__(self, lean: float = 0.5):
        super().__init__()
        self.lean = lean
        self.scale = nn.Parameter(torch.tensor(30.0))

    def forward(self, x, previous_weights=None):
        w = torch.softmax(self.scale * x[:, 0, :, -5:].mean(-1), dim=-1)
        held = previous_weights
        invested = held.sum(-1, keepdim=True)
        kept = held / invested.clamp_min(1e-12)
        return torch.where(invested > 0, (1 - self.lean) * w + self.lean * kept, w)


def naive_path(pieces, windows, returns, trades):
    """Day by day: drift the holdings, decide at each decision date with the holdings of
    that close (each sample by its own network), trade at the trade dates to the
    decision they carry out."""
    samples = np.concatenate([s for s, _ in pieces])
    nets = [net for s, net in pieces for _ in s]
    r = returns.to_numpy()
    pos = returns.index.get_indexer(windows.timestamps[samples])
    trade_pos = dict(zip(returns.index.get_indexer(trades[0]), trades[1]))
    held, weights = np.zeros(r.shape[1]), {}
    for p in range(pos[0], pos[-1] + 1):
        if p > pos[0]:
            held = held * (1 + r[p]) / (1 + held @ r[p])
        if p in pos:
            i = int(np.flatnonzero(pos == p)[0])
            x = windows.x[samples[i] : samples[i] + 1]
            with torch.no_grad():
                weights[i] = nets[i](x, previous_weights=torch.tensor(held)[None])[0].numpy()
        if p in trade_pos:
            held = weights[trade_pos[p]].copy()
    return np.stack([weights[i] for i in range(len(samples))])


@pytest.fixture(scope="module")
def data():
    returns = synthetic_market(300, 4, seed=2, momentum=0.2)
    windows = make_windows(returns, lookback=10, horizon=5, dtype=torch.float64)
    return returns, windows


@pytest.mark.parametrize(("rebalance", "lag"), [(None, 0), (None, 2), ("M", 0), ("W", 1)])
def test_the_decisions_follow_the_backtests_holdings(data, rebalance, lag):
    from deepalloc.backtest import trade_schedule

    returns, windows = data
    pieces = [
        (np.arange(50, 150), Leaning(0.5).double()),
        (np.arange(150, 250), Leaning(0.3).double()),
    ]
    got = holdings_aware_weights(pieces, windows, returns, rebalance=rebalance, lag=lag)
    dates = windows.timestamps[np.arange(50, 250)]
    trades = trade_schedule(dates, returns, rebalance=rebalance, lag=lag)
    assert got.index.equals(dates)
    expected = naive_path(pieces, windows, returns, trades)
    np.testing.assert_allclose(got.to_numpy(), expected, rtol=0, atol=1e-12)


def test_every_decision_saw_the_holdings_the_backtest_held(data):
    returns, windows = data
    samples = np.arange(40, 200)
    net = Leaning(0.6).double()
    weights = holdings_aware_weights([(samples, net)], windows, returns)
    result = backtest(weights, returns)
    held_after = result.holdings.loc[weights.index]  # at each decision's close, after its trade
    r = returns.loc[weights.index].to_numpy()[1:]
    before = held_after.to_numpy()[:-1]  # the previous close's holdings, drifted one day
    pre_trade = before * (1 + r) / (1 + (before * r).sum(1, keepdims=True))
    x = windows.x[torch.from_numpy(samples[1:])]
    with torch.no_grad():
        again = net(x, previous_weights=torch.from_numpy(pre_trade)).numpy()
    np.testing.assert_allclose(again, weights.to_numpy()[1:], rtol=0, atol=1e-12)


def test_a_suite_carries_holdings_across_folds(data):
    returns, windows = data
    windows32 = make_windows(returns, lookback=10, horizon=5)
    folds = walk_forward_folds(windows32, test_size=60, initial_train=150, val_size=20)
    strategy = NetworkStrategy(
        "aware",
        lambda c, a, lb: DenseNet(c, lb, hidden=(8, 4), holdings_aware=True),
        SharpeLoss(),
        {"epochs": 2},
        sequential=SequentialTraining(run_length=4, stride=5, costs_bps=10.0, batch_size=4),
    )
    result = run_suite(windows32, [strategy], folds, returns=returns, costs_bps=10, rebalance="W")
    # trained on its after-cost path, validated on one run over the validation block
    assert set(result.histories.query("split == 'val'")["metric"]) == {"loss"}
    weights = result.weights["aware"]
    assert weights.index.equals(windows32.timestamps[np.concatenate([f.test for f in folds])])
    # the first decision of the second fold saw the holdings the backtest held then, not cash
    second = windows32.timestamps[folds[1].test[0]]
    held = result.backtests["aware"].holdings
    day = held.index.get_loc(second)
    r = returns.loc[second].to_numpy()
    prev = held.iloc[day - 1].to_numpy()
    pre_trade = prev * (1 + r) / (1 + prev @ r)
    assert pre_trade.sum() > 0.99
    net = DenseNet(1, 10, hidden=(8, 4), holdings_aware=True)
    net.load_state_dict(result.states[1]["aware"])
    net.eval()
    with torch.no_grad():
        decided = net(
            windows32.x[folds[1].test[:1]], previous_weights=torch.tensor(pre_trade)[None].float()
        )
    np.testing.assert_allclose(decided[0].numpy(), weights.loc[second].to_numpy(), atol=1e-6)
    assert isinstance(result.table, pd.DataFrame)
