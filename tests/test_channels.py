"""The returns channel is found by name: losses and covariance estimators never read a
volatility channel as returns, and an ambiguous choice raises."""

import functools

import numpy as np
import pandas as pd
import pytest
import torch

from deepalloc._channels import resolve_channel
from deepalloc.data import WindowLoader, holdout_split, make_windows, synthetic_market
from deepalloc.layers import CovarianceEstimator
from deepalloc.losses import SharpeLoss
from deepalloc.networks import LSTMMarkowitzNet
from deepalloc.training import fit


def test_resolution_rules():
    assert resolve_channel(None, ["features"], "x") == 0
    assert resolve_channel(None, ["volatility", "returns"], "x") == 1
    assert resolve_channel("volatility", ["volatility", "returns"], "x") == 0
    assert resolve_channel(-1, ["a", "b", "c"], "x") == 2
    with pytest.raises(ValueError, match="which channel holds the returns is ambiguous"):
        resolve_channel(None, ["volatility", "momentum"], "SharpeLoss")
    with pytest.raises(ValueError, match="expected one of the channels"):
        resolve_channel("returns", ["a", "b"], "SharpeLoss")
    with pytest.raises(ValueError, match="expected an index into the 2 channels"):
        resolve_channel(2, ["a", "b"], "SharpeLoss")


def panel():
    returns = synthetic_market(400, 4, seed=1)
    volatility = returns.abs().rolling(5, min_periods=1).mean() + 0.01
    return returns, volatility


def test_a_loss_on_a_multi_channel_y_without_a_choice_raises():
    w = torch.full((2, 4), 0.25)
    y = torch.randn(2, 2, 4, 5) * 0.01
    with pytest.raises(ValueError, match="ambiguous"):
        SharpeLoss()(w, y)
    torch.testing.assert_close(SharpeLoss(returns_channel=1)(w, y), SharpeLoss()(w, y[:, 1:]))


def test_fit_and_the_covariance_read_the_returns_channel_by_name():
    returns, volatility = panel()
    # the volatility channel comes first, in x and in y
    windows = make_windows(
        {"volatility": volatility, "returns": returns},
        lookback=20,
        horizon=5,
        targets={"volatility": volatility, "returns": returns},
        dtype=torch.float64,
    )
    estimator = CovarianceEstimator(output="covariance")
    with pytest.raises(ValueError, match="ambiguous"):
        estimator(windows.x[:2])  # a bare tensor: the names are not known
    estimator.bind_channels(windows.channels)
    expected = CovarianceEstimator(output="covariance", returns_channel=1)(windows.x[:2])
    torch.testing.assert_close(estimator(windows.x[:2]), expected)

    fold = holdout_split(windows, test=0.2, val=0.2)
    torch.manual_seed(0)
    net = LSTMMarkowitzNet(2, hidden_size=4).double()
    loss = SharpeLoss()
    fit(
        net,
        loss,
        WindowLoader(windows, fold.train, shuffle=True, generator=0),
        epochs=1,
        progress=False,
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
    )
    assert loss.channel_index(2) == 1  # bound to 'returns' by fit
    assert net.head.covariance.channel_index(2) == 1
    x = windows.x[:3]
    y_returns = windows.y[:3, 1:]
    np.testing.assert_allclose(
        loss(net(x), windows.y[:3]).detach().numpy(),
        SharpeLoss(returns_channel=0)(net(x), y_returns).detach().numpy(),
    )


def test_fit_refuses_an_ambiguous_target():
    returns, volatility = panel()
    windows = make_windows(
        {"volatility": volatility, "momentum": returns.rolling(3, min_periods=1).mean()},
        lookback=20,
        horizon=5,
        targets={"volatility": volatility, "momentum": returns},
    )
    loader = WindowLoader(windows, np.arange(50), shuffle=True, generator=0)
    net = LSTMMarkowitzNet(2, hidden_size=4, returns_channel="momentum")
    with pytest.raises(ValueError, match="SharpeLoss.returns_channel: expected a channel named"):
        fit(net, SharpeLoss(), loader, epochs=1, progress=False)


def test_a_baseline_in_a_suite_reads_returns_by_name_not_position():
    from deepalloc.baselines import InverseVolatility
    from deepalloc.data import walk_forward_folds
    from deepalloc.evaluation import BaselineStrategy, run_suite

    returns, volatility = panel()
    both = make_windows(
        {"volatility": volatility, "returns": returns}, lookback=20, horizon=5, targets=returns
    )
    alone = make_windows(returns, lookback=20, horizon=5)
    folds = walk_forward_folds(both, test_size=100, initial_train=200)
    rule = [BaselineStrategy("inverse_volatility", InverseVolatility())]
    on_both = run_suite(both, rule, folds, returns=returns)
    on_alone = run_suite(alone, rule, folds, returns=returns)
    pd.testing.assert_frame_equal(
        on_both.weights["inverse_volatility"], on_alone.weights["inverse_volatility"]
    )
    with pytest.raises(ValueError, match="ambiguous"):
        InverseVolatility()(torch.randn(2, 2, 4, 20))  # two unnamed channels
