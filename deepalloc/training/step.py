"""One training epoch: batches through the network and loss, with the failure policy."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable

import torch
from torch import nn

from deepalloc._checks import check_finite
from deepalloc.data.sequential import RunBatch, SequentialLoader
from deepalloc.errors import NonFiniteError, SolverError
from deepalloc.losses import Loss
from deepalloc.training.run import Run, TrainingError
from deepalloc.training.sequential import path_returns

FAILURES: tuple[type[Exception], ...] = (SolverError, NonFiniteError, FloatingPointError)
"""What the failure policy covers: a solver failure, a non-finite input to an allocator
or loss (a NaN from the network), or a non-finite loss."""


Batch = tuple[torch.Tensor, torch.Tensor] | RunBatch


def batch_size(batch: Batch) -> int:
    """Samples (or runs) in a batch."""
    return batch.x.shape[1] if isinstance(batch, RunBatch) else batch[0].shape[0]


def per_sample_loss(
    network: nn.Module,
    loss: Loss,
    batch: Batch,
    loader: object,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> torch.Tensor:
    """The loss of every sample (or every run, scored on its after-cost path), (batch,)."""
    if isinstance(batch, RunBatch):
        assert isinstance(loader, SequentialLoader)
        returns, _ = path_returns(network, batch.to(device, dtype), loader)
        check_finite("path returns", returns)
        return loss.score(returns)
    x, y = batch
    return loss(network(x.to(device, dtype)), y.to(device, dtype))


def batch_loss(
    network: nn.Module,
    loss: Loss,
    batch: Batch,
    loader: object,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> torch.Tensor:
    """Mean loss of one batch; raises ``FloatingPointError`` if it is not finite."""
    value = per_sample_loss(network, loss, batch, loader, device, dtype).mean()
    if not bool(torch.isfinite(value)):
        raise FloatingPointError(f"non-finite loss {float(value.detach())}")
    return value


def train_epoch(
    run: Run,
    loss: Loss,
    regularizer: Callable[[nn.Module], torch.Tensor] | None,
    clip_grad_norm: float | None,
    on_failure: str,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> None:
    """Run one epoch of optimizer steps and record its training loss, learning rate and
    skipped batches in the history; call every ``on_batch_end`` hook.

    Raises
    ------
    TrainingError
        On a failed batch under ``on_failure="raise"``, or when every batch was skipped.
    """
    network, opt, epoch = run.network, run.optimizer, run.state.epoch
    network.train()
    total, count, skipped, batches = 0.0, 0, 0, 0
    lr = opt.param_groups[0]["lr"]
    batches_of: Iterable[Batch] = run.train_loader
    for batch, data in enumerate(batches_of):
        batches += 1
        try:
            value = batch_loss(network, loss, data, run.train_loader, device, dtype)
        except FAILURES as err:
            message = f"epoch {epoch}, batch {batch}: {err}"
            if on_failure == "raise":
                raise TrainingError(message) from err
            warnings.warn(f"skipped {message}", RuntimeWarning, stacklevel=4)
            skipped += 1
            continue
        objective = value if regularizer is None else value + regularizer(network)
        opt.zero_grad()
        objective.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(network.parameters(), clip_grad_norm)
        opt.step()
        total += float(value.detach()) * batch_size(data)
        count += batch_size(data)
        for callback in run.callbacks:
            hook = getattr(callback, "on_batch_end", None)
            if hook is not None:
                hook(run, batch, float(value.detach()))
    if batches and skipped == batches:
        raise TrainingError(
            f"epoch {epoch}: expected at least one batch to train on, got all {batches} "
            "skipped by the failure policy (see the warnings for why)"
        )
    run.state.skipped += skipped
    run.record(
        "train",
        {"loss": total / count if count else math.nan, "lr": lr, "skipped_batches": skipped},
    )
