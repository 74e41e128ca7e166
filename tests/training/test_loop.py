import functools
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from deepalloc.data import holdout_split, make_windows, synthetic_market
from deepalloc.errors import SolverError
from deepalloc.losses import Loss, SharpeLoss, VolatilityLoss
from deepalloc.networks import DenseNet, StackedLSTMNet
from deepalloc.training import (
    EarlyStopping,
    MLflowLogger,
    ParameterPenalty,
    TrainingError,
    evaluate_metrics,
    fit,
    predict,
)
from tests.training.conftest import loaders


def adam(lr):
    return functools.partial(torch.optim.Adam, lr=lr)


def test_early_stopping_restores_best_validation_weights(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, val = loaders(market, fold)
    torch.manual_seed(0)
    net = DenseNet(1, 20, hidden=(64, 64))
    result = fit(
        net,
        SharpeLoss(),
        train,
        val_loader=val,
        epochs=200,
        optimizer=adam(3e-2),
        early_stopping=EarlyStopping(patience=3),
        seed=1,
        progress=False,
    )
    assert result.stopped_early
    last_epoch = int(result.history["epoch"].max())
    assert last_epoch < 200
    val_loss = result.history.query("split == 'val' and metric == 'loss'").set_index("epoch")[
        "value"
    ]
    assert result.best_epoch == int(val_loss.idxmin())
    assert result.best_epoch == last_epoch - 3
    now = evaluate_metrics(net, val, {"loss": SharpeLoss()})["loss"]
    assert math.isclose(now, val_loss.min(), rel_tol=1e-5, abs_tol=1e-6)
    assert now < val_loss.loc[last_epoch] or math.isclose(now, val_loss.loc[last_epoch])
    assert set(result.history.columns) == {"epoch", "split", "metric", "value"}


def test_seed_reproducible_and_global_rng_untouched(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    before = torch.get_rng_state()

    def run(seed):
        torch.manual_seed(0)
        net = StackedLSTMNet(1, hidden_size=8, dropout=0.3)
        train, _ = loaders(market, fold)
        state = torch.get_rng_state()
        fit(net, SharpeLoss(), train, epochs=2, optimizer=adam(1e-2), seed=seed, progress=False)
        assert torch.equal(torch.get_rng_state(), state)  # the caller's generator is untouched
        return torch.cat([p.flatten() for p in net.parameters()])

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))
    torch.set_rng_state(before)


class FlakyNet(nn.Module):
    """Raises a SolverError on one call, as a failing allocator would."""

    def __init__(self, fail_on_call, error=SolverError):
        super().__init__()
        self.inner = DenseNet(1, 20)
        self.calls = 0
        self.fail_on_call, self.error = fail_on_call, error

    def forward(self, x):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise self.error("injected failure")
        return self.inner(x)


def test_failure_policies(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, _ = loaders(market, fold)
    with pytest.raises(TrainingError, match="epoch 1, batch 2: injected failure"):
        fit(FlakyNet(3), SharpeLoss(), train, epochs=1, progress=False)
    with pytest.warns(RuntimeWarning, match="skipped epoch 1, batch 2"):
        result = fit(FlakyNet(3), SharpeLoss(), train, epochs=2, on_failure="skip", progress=False)
    assert result.skipped_batches == 1
    skipped = result.history.query("metric == 'skipped_batches'")["value"].tolist()
    assert skipped == [1.0, 0.0]
    with pytest.raises(KeyboardInterrupt):
        fit(
            FlakyNet(2, KeyboardInterrupt),
            SharpeLoss(),
            train,
            epochs=1,
            on_failure="skip",
            progress=False,
        )


def test_non_finite_weights_and_losses_are_caught(market):
    class NanNet(DenseNet):
        def forward(self, x):
            return super().forward(x) * float("nan")

    class InfiniteLoss(Loss):
        def forward(self, weights, y):
            return torch.log(torch.zeros_like(weights[:, 0]))

    fold = holdout_split(market, test=0.2, val=0.2)
    train, _ = loaders(market, fold)
    with pytest.raises(TrainingError, match="epoch 1, batch 0: weights: expected finite values"):
        fit(NanNet(1, 20), SharpeLoss(), train, epochs=1, progress=False)
    with pytest.raises(TrainingError, match="epoch 1, batch 0: non-finite loss -inf"):
        fit(DenseNet(1, 20), InfiniteLoss(), train, epochs=1, progress=False)


@pytest.mark.parametrize(
    "optimizer",
    [
        torch.optim.Adam,
        torch.optim.AdamW,
        functools.partial(torch.optim.SGD, momentum=0.9),
        torch.optim.RMSprop,
    ],
)
@pytest.mark.parametrize(
    ("scheduler", "expected"),
    [
        (
            functools.partial(torch.optim.lr_scheduler.ExponentialLR, gamma=0.5),
            lambda k: 0.01 * 0.5**k,
        ),
        (
            functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2, gamma=0.5),
            lambda k: 0.01 * 0.5 ** (k // 2),
        ),
        (
            functools.partial(torch.optim.lr_scheduler.PolynomialLR, total_iters=4),
            lambda k: 0.01 * (1 - k / 4),
        ),
        (
            functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=4),
            lambda k: 0.01 * (1 + math.cos(math.pi * k / 4)) / 2,
        ),
    ],
)
def test_optimizer_and_scheduler_factories(market, optimizer, scheduler, expected):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, _ = loaders(market, fold, batch_size=256)
    torch.manual_seed(0)
    result = fit(
        DenseNet(1, 20),
        SharpeLoss(),
        train,
        epochs=4,
        optimizer=functools.partial(optimizer, lr=0.01),
        scheduler=scheduler,
        progress=False,
    )
    lrs = result.history.query("metric == 'lr'")["value"].to_numpy()
    np.testing.assert_allclose(lrs, [expected(k) for k in range(4)], rtol=1e-9)


def test_penalties_shrink_chosen_parameters(market):
    fold = holdout_split(market, test=0.2, val=0.2)

    def norm(**kw):
        torch.manual_seed(0)
        net = DenseNet(1, 20)
        train, _ = loaders(market, fold)
        fit(net, SharpeLoss(), train, epochs=3, optimizer=adam(1e-2), seed=0, progress=False, **kw)
        return sum(
            float((p.detach() ** 2).sum()) for n, p in net.named_parameters() if "weight" in n
        )

    assert norm(regularizer=ParameterPenalty(l2=1.0, only=["weight"])) < 0.5 * norm()
    assert norm(regularizer=ParameterPenalty(l1=0.1)) < norm()
    with pytest.raises(ValueError, match="l1, l2: expected non-negative"):
        ParameterPenalty(l2=-1.0)


def test_returns_kind_must_match_dataset(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, _ = loaders(market, fold)
    with pytest.raises(ValueError, match="expected returns of kind 'simple'"):
        fit(DenseNet(1, 20), SharpeLoss(kind="log"), train, epochs=1, progress=False)
    with pytest.raises(ValueError, match="monitor: expected one of"):
        fit(
            DenseNet(1, 20),
            SharpeLoss(),
            train,
            val_loader=train,
            early_stopping=EarlyStopping(monitor="vol"),
            epochs=1,
            progress=False,
        )


def test_float64_network_trains_on_float32_batches(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, val = loaders(market, fold)
    net = DenseNet(1, 20).double()
    result = fit(net, SharpeLoss(), train, val_loader=val, epochs=1, progress=False)
    assert math.isfinite(result.history["value"].iloc[0])
    assert next(net.parameters()).dtype == torch.float64


def test_validation_metrics_are_recorded(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, val = loaders(market, fold)
    result = fit(
        DenseNet(1, 20),
        SharpeLoss(),
        train,
        val_loader=val,
        epochs=2,
        metrics={"vol": VolatilityLoss()},
        progress=True,
    )
    metrics = set(result.history.query("split == 'val'")["metric"])
    assert metrics == {"loss", "vol"}


def test_predict_on_data_without_future_returns():
    returns = synthetic_market(120, 4, seed=2)
    torch.manual_seed(0)
    net = DenseNet(1, 30)
    weights = predict(net, returns, lookback=30)
    assert isinstance(weights, pd.DataFrame)
    assert weights.index[-1] == returns.index[-1]  # the last date has no future at all
    assert weights.index[0] == returns.index[29]
    assert list(weights.columns) == list(returns.columns)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    windows = make_windows(returns, lookback=30, horizon=0)
    pd.testing.assert_frame_equal(predict(net, windows), weights)
    with pytest.raises(ValueError, match="lookback: expected the window length"):
        predict(net, returns)


def test_missing_extra_names_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # makes "import mlflow" fail
    with pytest.raises(ImportError, match=r"deepalloc\[mlflow\]"):
        MLflowLogger()
