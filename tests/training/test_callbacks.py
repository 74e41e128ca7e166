"""Callbacks: a user-defined one sees every hook; early stopping and the failure policy
raise when training cannot go on."""

import math

import pytest
import torch

from deepalloc.data import holdout_split
from deepalloc.errors import SolverError
from deepalloc.losses import SharpeLoss
from deepalloc.networks import DenseNet
from deepalloc.training import Callback, EarlyStopping, Run, TrainingError, fit
from tests.training.conftest import loaders


class Recorder(Callback):
    """Records the order of the hooks, the batch losses and the validation scores."""

    def __init__(self, stop_after: int | None = None):
        self.events: list[str] = []
        self.batch_losses: list[float] = []
        self.scores: list[dict] = []
        self.stop_after = stop_after

    def on_fit_start(self, run: Run) -> None:
        self.events.append("start")

    def on_batch_end(self, run: Run, batch: int, loss: float) -> None:
        self.events.append(f"batch{run.state.epoch}.{batch}")
        self.batch_losses.append(loss)

    def on_epoch_end(self, run: Run) -> None:
        self.events.append(f"epoch{run.state.epoch}")
        self.scores.append(dict(run.scores))
        if self.stop_after is not None and run.state.epoch >= self.stop_after:
            run.stop = True

    def on_fit_end(self, run: Run) -> None:
        self.events.append("end")


def test_a_user_callback_sees_every_hook_and_can_stop_training(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, val = loaders(market, fold, batch_size=256)
    n_batches = len(list(train))
    recorder = Recorder(stop_after=2)
    result = fit(
        DenseNet(1, 20),
        SharpeLoss(),
        train,
        val_loader=val,
        epochs=5,
        callbacks=[recorder],
        progress=False,
    )
    expected = ["start"]
    for epoch in (1, 2):
        expected += [f"batch{epoch}.{b}" for b in range(n_batches)] + [f"epoch{epoch}"]
    assert recorder.events == [*expected, "end"]
    assert int(result.history["epoch"].max()) == 2
    # the epoch's training loss is the sample-weighted mean of its batch losses
    sizes = [len(x) for x, _ in train]
    history = result.history.query("split == 'train' and metric == 'loss'")["value"].tolist()
    first = recorder.batch_losses[:n_batches]
    assert math.isclose(
        history[0], sum(v * n for v, n in zip(first, sizes)) / sum(sizes), rel_tol=1e-6
    )
    val_rows = result.history.query("split == 'val' and metric == 'loss'")["value"].tolist()
    assert [s["loss"] for s in recorder.scores] == pytest.approx(val_rows)


class AlwaysFails(DenseNet):
    def forward(self, x):
        raise SolverError("injected failure")


def test_an_epoch_with_every_batch_skipped_raises(market):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, _ = loaders(market, fold)
    with (
        pytest.warns(RuntimeWarning, match="skipped epoch 1"),
        pytest.raises(
            TrainingError, match=r"epoch 1: expected at least one batch .* all \d+ skipped"
        ),
    ):
        fit(AlwaysFails(1, 20), SharpeLoss(), train, epochs=2, on_failure="skip", progress=False)


def nan_metric(weights, y):
    return torch.full((weights.shape[0],), float("nan"))


@pytest.mark.parametrize("epochs", [2, 10])
def test_a_validation_metric_never_finite_raises(market, epochs):
    fold = holdout_split(market, test=0.2, val=0.2)
    train, val = loaders(market, fold, batch_size=256)
    with pytest.raises(TrainingError, match="expected a finite validation 'nan' in some epoch"):
        fit(
            DenseNet(1, 20),
            SharpeLoss(),
            train,
            val_loader=val,
            epochs=epochs,
            metrics={"nan": nan_metric},
            early_stopping=EarlyStopping(monitor="nan", patience=3),
            progress=False,
        )


def test_early_stopping_rejects_a_bad_patience():
    with pytest.raises(ValueError, match="patience: expected a positive integer"):
        EarlyStopping(patience=0)
