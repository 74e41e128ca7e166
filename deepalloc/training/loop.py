"""The training loop: ``fit`` any network on any loss.

``fit`` is assembled from small parts: the epoch step (:mod:`deepalloc.training.step`),
validation, early stopping (:class:`~deepalloc.training.EarlyStopping`), checkpoints
and exact resume (:class:`~deepalloc.training.Checkpoint`), the history rows kept on the
run, and any user callbacks (:class:`~deepalloc.training.Callback`: loggers, progress
bars, custom hooks). Randomness comes from an explicit ``seed``: the global torch
generator is forked for the duration of training (so the caller's global state is
untouched) and the loader's generator is seeded from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import torch
from torch import nn

from deepalloc._channels import bind_channels
from deepalloc._checks import check_choice
from deepalloc.data import SequentialLoader, WindowLoader
from deepalloc.losses import Loss
from deepalloc.training.callbacks import EarlyStopping, ProgressBar
from deepalloc.training.checkpoint import Checkpoint
from deepalloc.training.optim import DEFAULT_OPTIMIZER, OptimizerFactory, SchedulerFactory
from deepalloc.training.predict import Metric, evaluate_metrics, placement
from deepalloc.training.run import Run, TrainingError
from deepalloc.training.step import FAILURES, train_epoch

FailurePolicy = Literal["raise", "skip"]
Loader = WindowLoader | SequentialLoader


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    network
        The trained network (the same object that was passed in), holding the best
        validation weights when early stopping restored them.
    history
        Tidy DataFrame with columns ``epoch, split, metric, value``.
    best_epoch
        Epoch with the best monitored validation metric (``None`` without validation).
    stopped_early
        Whether training stopped before ``epochs``.
    skipped_batches
        Batches skipped under the ``"skip"`` failure policy.
    """

    network: nn.Module
    history: pd.DataFrame
    best_epoch: int | None
    stopped_early: bool
    skipped_batches: int = 0


def _check_returns_kind(loss: Loss, loader: Loader) -> None:
    kinds = {kind for _, kind, _ in loss.return_settings()}
    if kinds and kinds != {loader.windows.returns_kind}:
        raise ValueError(
            f"loss: expected returns of kind {loader.windows.returns_kind!r} as declared by the "
            f"dataset, got a loss reading {sorted(kinds)}"
        )


def _validate(
    run: Run,
    metrics: Mapping[str, Metric],
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> None:
    """Score the validation loader into ``run.scores`` and the history."""
    assert run.val_loader is not None
    try:
        run.scores = evaluate_metrics(
            run.network, run.val_loader, metrics, device=device, dtype=dtype
        )
    except FAILURES as err:
        raise TrainingError(f"epoch {run.state.epoch}, validation: {err}") from err
    run.record("val", run.scores)


def fit(
    network: nn.Module,
    loss: Loss,
    train_loader: Loader,
    *,
    val_loader: Loader | None = None,
    epochs: int = 100,
    optimizer: OptimizerFactory = DEFAULT_OPTIMIZER,
    scheduler: SchedulerFactory | None = None,
    regularizer: Callable[[nn.Module], torch.Tensor] | None = None,
    clip_grad_norm: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    early_stopping: EarlyStopping | None = None,
    callbacks: Sequence[object] = (),
    on_failure: FailurePolicy = "raise",
    seed: int | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> FitResult:
    """Train ``network`` to minimise ``loss`` on ``train_loader``.

    Parameters
    ----------
    network
        Any ``nn.Module`` mapping x (batch, channel, asset, lookback) to weights
        (batch, asset).
    loss
        A :class:`~deepalloc.losses.Loss`; its returns kind must match the dataset's.
    train_loader, val_loader
        Loaders of (x, y) batches (the validation loader keeps time order), or
        :class:`~deepalloc.data.SequentialLoader` of runs for sequential training on the
        after-cost path (:mod:`deepalloc.training.sequential`).
    epochs
        Most epochs to run.
    optimizer
        Factory ``params -> torch.optim.Optimizer`` (default Adam, learning rate 1e-3),
        for example ``functools.partial(torch.optim.SGD, lr=0.01, momentum=0.9)``.
    scheduler
        Factory ``optimizer -> learning-rate scheduler``, stepped after every epoch.
    regularizer
        ``network -> scalar tensor`` added to the loss (e.g.
        :class:`~deepalloc.training.ParameterPenalty`).
    clip_grad_norm
        Clip the gradient norm to this value.
    metrics
        Named validation metrics (losses or ``(weights, y) -> (batch,)``); ``"loss"``
        (the training loss) is always included.
    early_stopping
        With a validation loader: stops and restores the best weights
        (default :class:`~deepalloc.training.EarlyStopping` on ``"loss"`` with patience 15).
    callbacks
        Objects with any of the hooks of :class:`~deepalloc.training.Callback`
        (loggers, checkpoints, custom code), called in this order after early stopping
        (a :class:`~deepalloc.training.Checkpoint` is moved last, so it saves the state
        every other callback left).
    on_failure
        When a batch hits a solver failure, a non-finite input or a non-finite loss:
        ``"raise"`` a :class:`~deepalloc.training.TrainingError` naming the epoch and
        batch, or ``"skip"`` the batch with a warning (counted in the history). An
        epoch whose every batch was skipped raises.
    seed
        Seed of the training randomness (initial shuffles, dropout, augmentation).
    progress
        Show a progress bar (tqdm; works in notebooks).
    device, dtype
        Where and in which dtype to train (default: the network's current ones).

    Returns
    -------
    FitResult
    """
    check_choice("on_failure", on_failure, ("raise", "skip"))
    _check_returns_kind(loss, train_loader)
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs!r}")
    all_metrics: dict[str, Metric] = {"loss": loss, **(metrics or {})}
    stopper = None
    if val_loader is not None:
        stopper = early_stopping or EarlyStopping()
        if stopper.monitor not in all_metrics:
            raise ValueError(
                f"monitor: expected one of {list(all_metrics)}, got {stopper.monitor!r}"
            )
    windows = train_loader.windows
    bind_channels(network.modules(), windows.channels)
    for metric in all_metrics.values():
        bind_channels(metric.leaves() if isinstance(metric, Loss) else (), windows.target_channels)
    network.to(device=device, dtype=dtype)
    device, dtype = placement(network, device, dtype)
    opt = optimizer([p for p in network.parameters() if p.requires_grad])
    ordered = sorted(callbacks, key=lambda cb: isinstance(cb, Checkpoint))
    run = Run(
        network=network,
        optimizer=opt,
        scheduler=None if scheduler is None else scheduler(opt),
        train_loader=train_loader,
        val_loader=val_loader,
        epochs=epochs,
        callbacks=[
            *([stopper] if stopper else []),
            *ordered,
            *([ProgressBar()] if progress else []),
        ],
    )
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
            if train_loader.generator is not None:
                train_loader.generator.manual_seed(seed)
        _hooks(run, "on_fit_start")
        while run.state.epoch < epochs and not run.stop:
            run.state.epoch += 1
            train_epoch(run, loss, regularizer, clip_grad_norm, on_failure, device, dtype)
            if run.scheduler is not None:
                run.scheduler.step()
            if val_loader is not None:
                _validate(run, all_metrics, device, dtype)
            _hooks(run, "on_epoch_end")
        _hooks(run, "on_fit_end")
    return FitResult(
        network=network,
        history=pd.DataFrame(run.state.rows, columns=["epoch", "split", "metric", "value"]),
        best_epoch=None if stopper is None else stopper.best_epoch,
        stopped_early=False if stopper is None else stopper.stopped_early,
        skipped_batches=run.state.skipped,
    )


def _hooks(run: Run, name: str) -> None:
    for callback in run.callbacks:
        hook = getattr(callback, name, None)
        if hook is not None:
            hook(run)
