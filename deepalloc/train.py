"""Training: ``fit`` any network on any loss; ``predict`` weights for new data.

``fit`` runs epochs over a training loader, validates on named metrics every epoch,
stops early with a patience and restores the best weights, checkpoints everything
needed to resume exactly, and returns a tidy history. Randomness comes from an explicit
``seed``: the global torch generator is forked for the duration of training (so the
caller's global state is untouched) and the loader's generator is seeded from it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from deepalloc._checks import check_choice
from deepalloc.data import WindowLoader, Windows, make_windows
from deepalloc.errors import SolverError
from deepalloc.losses import Loss
from deepalloc.train_logging import Logger

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
SCHEDULES = ("exponential", "polynomial", "step", "cosine")


class TrainingError(RuntimeError):
    """A batch failed (solver failure or non-finite loss) under the ``"raise"`` policy."""


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


def _optimizer(
    name: str,
    params: Any,
    lr: float,
    weight_decay: float,
    momentum: float,
    betas: tuple[float, float],
) -> torch.optim.Optimizer:
    check_choice("optimizer", name, OPTIMIZERS)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=betas, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)


def _schedule(
    name: str | None, opt: torch.optim.Optimizer, epochs: int, options: Mapping[str, Any]
) -> Any:
    if name is None:
        return None
    check_choice("schedule", name, SCHEDULES)
    sched = torch.optim.lr_scheduler
    if name == "exponential":
        return sched.ExponentialLR(opt, gamma=options.get("gamma", 0.95))
    if name == "polynomial":
        return sched.PolynomialLR(
            opt, total_iters=options.get("total_iters", epochs), power=options.get("power", 1.0)
        )
    if name == "step":
        return sched.StepLR(
            opt, step_size=options.get("step_size", 10), gamma=options.get("gamma", 0.5)
        )
    return sched.CosineAnnealingLR(
        opt, T_max=options.get("t_max", epochs), eta_min=options.get("eta_min", 0.0)
    )


def _selected(network: nn.Module, penalize: Sequence[str] | None) -> list[torch.Tensor]:
    params: list[torch.Tensor] = []
    for name, p in network.named_parameters():
        if penalize is None or any(key in name for key in penalize):
            params.append(p)
    return params


def _check_returns_kind(loss: Loss, loader: WindowLoader) -> None:
    kinds = {kind for _, kind, _ in loss.return_settings()}
    if kinds and kinds != {loader.windows.returns_kind}:
        raise ValueError(
            f"loss: expected returns of kind {loader.windows.returns_kind!r} as declared by the "
            f"dataset, got a loss reading {sorted(kinds)}"
        )


def evaluate_metrics(
    network: nn.Module,
    loader: WindowLoader,
    metrics: Mapping[str, Metric],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, float]:
    """Mean of each metric (a loss or ``(weights, y) -> (batch,)``) over every sample."""
    device, dtype = _placement(network, device, dtype)
    network.eval()
    totals = dict.fromkeys(metrics, 0.0)
    count = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, dtype), y.to(device, dtype)
            weights = network(x)
            for name, metric in metrics.items():
                totals[name] += float(metric(weights, y).sum())
            count += x.shape[0]
    return {name: value / max(count, 1) for name, value in totals.items()}


@dataclass
class _State:
    """Everything a checkpoint holds besides the network and optimizer."""

    epoch: int = 0
    best_score: float = math.inf
    best_epoch: int | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    bad_epochs: int = 0
    skipped: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)


def save_checkpoint(
    path: str | Path,
    network: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: _State,
    loader: WindowLoader,
) -> None:
    """Write model, optimizer, scheduler, epoch, early-stopping and generator states."""
    torch.save(
        {
            "model": network.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": None if scheduler is None else scheduler.state_dict(),
            "state": state.__dict__,
            "torch_rng": torch.get_rng_state(),
            "loader_rng": None if loader.generator is None else loader.generator.get_state(),
        },
        path,
    )


def fit(
    network: nn.Module,
    loss: Loss,
    train_loader: WindowLoader,
    *,
    val_loader: WindowLoader | None = None,
    epochs: int = 100,
    optimizer: str = "adam",
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    schedule: str | None = None,
    schedule_options: Mapping[str, Any] | None = None,
    l1: float = 0.0,
    l2: float = 0.0,
    penalize: Sequence[str] | None = None,
    clip_grad_norm: float | None = None,
    metrics: Mapping[str, Metric] | None = None,
    monitor: str = "loss",
    patience: int = 15,
    on_failure: str = "raise",
    checkpoint: str | Path | None = None,
    resume: str | Path | None = None,
    seed: int | None = None,
    progress: bool = True,
    loggers: Sequence[Logger] = (),
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
        Loaders of (x, y) batches (default batch size 32); the validation loader keeps
        time order.
    epochs
        Most epochs to run.
    optimizer, lr, betas, momentum, weight_decay
        ``"adam"`` (default, betas 0.9/0.999), ``"adamw"``, ``"sgd"`` (with momentum)
        or ``"rmsprop"``.
    schedule, schedule_options
        Learning-rate schedule stepped every epoch: ``"exponential"`` (``gamma``),
        ``"polynomial"`` (``total_iters``, ``power``), ``"step"`` (``step_size``,
        ``gamma``) or ``"cosine"`` (``t_max``, ``eta_min``).
    l1, l2, penalize
        Explicit L1/L2 penalties added to the loss, on the parameters whose names
        contain one of ``penalize`` (all parameters when ``None``).
    clip_grad_norm
        Clip the gradient norm to this value.
    metrics
        Named validation metrics (losses or ``(weights, y) -> (batch,)``); ``"loss"``
        (the training loss) is always included.
    monitor, patience
        Early stopping on the validation metric ``monitor`` (lower is better): stop
        after ``patience`` epochs without improvement and restore the best weights.
    on_failure
        When a batch hits a :class:`~deepalloc.errors.SolverError` or a non-finite
        loss: ``"raise"`` a :class:`TrainingError` naming the epoch and batch, or
        ``"skip"`` the batch with a warning (counted in the history).
    checkpoint, resume
        Write a checkpoint file after every epoch; resume from one, continuing exactly
        where it stopped.
    seed
        Seed of the training randomness (initial shuffles, dropout, augmentation).
    progress
        Show a progress bar (tqdm; works in notebooks).
    loggers
        Objects with ``log(metrics, step)`` (see :mod:`deepalloc.train_logging`).
    device, dtype
        Where and in which dtype to train (default: the network's current ones).

    Returns
    -------
    FitResult
    """
    check_choice("on_failure", on_failure, ("raise", "skip"))
    _check_returns_kind(loss, train_loader)
    if epochs < 1:
        raise ValueError(f"epochs: expected a positive integer, got {epochs}")
    all_metrics: dict[str, Metric] = {"loss": loss, **(metrics or {})}
    if val_loader is not None and monitor not in all_metrics:
        raise ValueError(f"monitor: expected one of {list(all_metrics)}, got {monitor!r}")
    network.to(device=device, dtype=dtype)
    device, dtype = _placement(network, device, dtype)
    params = [p for p in network.parameters() if p.requires_grad]
    opt = _optimizer(optimizer, params, lr, weight_decay, momentum, betas)
    scheduler = _schedule(schedule, opt, epochs, schedule_options or {})
    penalized = _selected(network, penalize) if (l1 or l2) else []
    state = _State()
    with torch.random.fork_rng(devices=[]):
        if resume is not None:
            saved = torch.load(resume, weights_only=False)
            network.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            if scheduler is not None and saved["scheduler"] is not None:
                scheduler.load_state_dict(saved["scheduler"])
            state = _State(**saved["state"])
            torch.set_rng_state(saved["torch_rng"])
            if train_loader.generator is not None and saved["loader_rng"] is not None:
                train_loader.generator.set_state(saved["loader_rng"])
        elif seed is not None:
            torch.manual_seed(seed)
            if train_loader.generator is not None:
                train_loader.generator.manual_seed(seed)
        bar = _progress(progress, state.epoch, epochs)
        stopped_early = False
        for epoch in range(state.epoch + 1, epochs + 1):
            train_loss, skipped = _train_epoch(
                network,
                loss,
                train_loader,
                opt,
                epoch,
                l1,
                l2,
                penalized,
                clip_grad_norm,
                on_failure,
                device,
                dtype,
            )
            state.skipped += skipped
            lr_now = opt.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()
            rows = [
                {"epoch": epoch, "split": "train", "metric": "loss", "value": train_loss},
                {"epoch": epoch, "split": "train", "metric": "lr", "value": lr_now},
                {
                    "epoch": epoch,
                    "split": "train",
                    "metric": "skipped_batches",
                    "value": float(skipped),
                },
            ]
            postfix = {"loss": f"{train_loss:.4g}"}
            if val_loader is not None:
                scores = evaluate_metrics(
                    network, val_loader, all_metrics, device=device, dtype=dtype
                )
                rows += [
                    {"epoch": epoch, "split": "val", "metric": k, "value": v}
                    for k, v in scores.items()
                ]
                postfix[f"val_{monitor}"] = f"{scores[monitor]:.4g}"
                if scores[monitor] < state.best_score:
                    state.best_score, state.best_epoch, state.bad_epochs = scores[monitor], epoch, 0
                    state.best_weights = {
                        k: v.detach().clone() for k, v in network.state_dict().items()
                    }
                else:
                    state.bad_epochs += 1
            state.rows += rows
            state.epoch = epoch
            for logger in loggers:
                logger.log({f"{r['split']}/{r['metric']}": r["value"] for r in rows}, epoch)
            if bar is not None:
                bar.set_postfix(postfix)
                bar.update(1)
            if checkpoint is not None:
                save_checkpoint(checkpoint, network, opt, scheduler, state, train_loader)
            if val_loader is not None and state.bad_epochs >= patience:
                stopped_early = epoch < epochs
                break
        if bar is not None:
            bar.close()
    if state.best_weights is not None:
        network.load_state_dict(state.best_weights)
    return FitResult(
        network=network,
        history=pd.DataFrame(state.rows, columns=["epoch", "split", "metric", "value"]),
        best_epoch=state.best_epoch,
        stopped_early=stopped_early,
        skipped_batches=state.skipped,
    )


def _placement(
    network: nn.Module, device: torch.device | str | None, dtype: torch.dtype | None
) -> tuple[torch.device | str | None, torch.dtype | None]:
    """Device and dtype for batches: as given, else those of the network's parameters."""
    reference = next((p for p in network.parameters() if p.is_floating_point()), None)
    if reference is None:
        return device, dtype
    return device or reference.device, dtype or reference.dtype


def _progress(enabled: bool, done: int, total: int) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc="epochs", unit="epoch", leave=False)


def _train_epoch(
    network: nn.Module,
    loss: Loss,
    loader: WindowLoader,
    opt: torch.optim.Optimizer,
    epoch: int,
    l1: float,
    l2: float,
    penalized: list[torch.Tensor],
    clip_grad_norm: float | None,
    on_failure: str,
    device: torch.device | str | None,
    dtype: torch.dtype | None,
) -> tuple[float, int]:
    network.train()
    total, count, skipped = 0.0, 0, 0
    for batch, (x, y) in enumerate(loader):
        x, y = x.to(device, dtype), y.to(device, dtype)
        try:
            value = loss(network(x), y).mean()
            if not bool(torch.isfinite(value)):
                raise FloatingPointError(f"non-finite loss {float(value.detach())}")
        except (SolverError, FloatingPointError) as err:
            message = f"epoch {epoch}, batch {batch}: {err}"
            if on_failure == "raise":
                raise TrainingError(message) from err
            warnings.warn(f"skipped {message}", RuntimeWarning, stacklevel=3)
            skipped += 1
            continue
        objective = value
        if penalized:
            if l1:
                objective = objective + l1 * sum(p.abs().sum() for p in penalized)
            if l2:
                objective = objective + l2 * sum((p**2).sum() for p in penalized)
        opt.zero_grad()
        objective.backward()
        if clip_grad_norm is not None:
            nn.utils.clip_grad_norm_(network.parameters(), clip_grad_norm)
        opt.step()
        total += float(value.detach()) * x.shape[0]
        count += x.shape[0]
    return (total / count if count else math.nan), skipped


def predict(
    network: nn.Module,
    data: Windows | pd.DataFrame | Mapping[str, pd.DataFrame],
    *,
    lookback: int | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> pd.DataFrame:
    """Weights for every decision date of ``data``, which needs no future returns.

    Parameters
    ----------
    network
        Maps x (batch, channel, asset, lookback) to weights (batch, asset).
    data
        :class:`~deepalloc.data.Windows` (any horizon, including 0), or feature
        frame(s) as accepted by :func:`~deepalloc.data.make_windows` together with
        ``lookback``; every date with a full lookback gets weights.
    batch_size, device, dtype
        Inference batching and placement (default: the network's parameters').

    Returns
    -------
    pandas.DataFrame
        Weights indexed by decision date (the last date of each window), one column per
        asset.
    """
    if isinstance(data, Windows):
        windows = data
    else:
        if lookback is None:
            raise ValueError("lookback: expected the window length for frame input, got None")
        windows = make_windows(data, lookback=lookback, horizon=0)
    device, dtype = _placement(network, device, dtype)
    dtype = dtype or windows.data.dtype
    network.eval()
    x_all = windows.x
    out = []
    with torch.no_grad():
        for start in range(0, len(windows), batch_size):
            x = x_all[start : start + batch_size].to(device, dtype)
            out.append(network(x).detach().cpu().double())
    values = torch.cat(out).numpy()
    return pd.DataFrame(values, index=windows.timestamps, columns=windows.assets)
