"""Checkpoints: everything needed to resume a training run exactly, in a safe format.

A checkpoint holds the model, optimizer and scheduler states, the loop's
:class:`~deepalloc.training.run.TrainingState`, the state of every callback that has
one (early stopping's best weights among them) and the random generators. It is
written atomically (:mod:`deepalloc._files`) and read with ``torch.load(...,
weights_only=True)``: only tensors and plain values are accepted, so loading never runs
code from the file, and anything else is refused with :class:`CheckpointError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from deepalloc._files import atomic_writer, load_weights_only
from deepalloc.training.callbacks import Callback
from deepalloc.training.run import Run, TrainingState

FORMAT = "deepalloc-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file is not one this version of deepalloc wrote, or is unsafe."""


def _callback_key(index: int, callback: Any) -> str:
    return f"{index}:{type(callback).__name__}"


def checkpoint_state(run: Run) -> dict[str, Any]:
    """The content of a checkpoint of ``run`` (tensors and plain values only)."""
    generator = run.train_loader.generator
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": run.network.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": None if run.scheduler is None else run.scheduler.state_dict(),
        "state": vars(run.state),
        "callbacks": {
            _callback_key(i, cb): cb.state_dict()
            for i, cb in enumerate(run.callbacks)
            if hasattr(cb, "state_dict")
        },
        "torch_rng": torch.get_rng_state(),
        "loader_rng": None if generator is None else generator.get_state(),
    }


def save_checkpoint(path: str | Path, run: Run) -> None:
    """Write a checkpoint of ``run`` to ``path`` atomically."""
    with atomic_writer(path) as file:
        torch.save(checkpoint_state(run), file)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint safely (``weights_only=True``) and check its format.

    Raises
    ------
    CheckpointError
        If the file holds anything but tensors and plain values (it could run code),
        or is not a deepalloc checkpoint of a known version.
    """
    saved = load_weights_only(path, CheckpointError, "checkpoint")
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: expected a {FORMAT} file, got another kind")
    if saved.get("version") != VERSION:
        raise CheckpointError(
            f"checkpoint {path}: expected format version {VERSION}, got {saved.get('version')!r}"
        )
    return saved


def restore(run: Run, saved: dict[str, Any]) -> None:
    """Put a loaded checkpoint back into ``run`` (network, optimizer, callbacks, RNGs)."""
    run.network.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    if run.scheduler is not None and saved["scheduler"] is not None:
        run.scheduler.load_state_dict(saved["scheduler"])
    run.state = TrainingState(**saved["state"])
    states = saved["callbacks"]
    for i, cb in enumerate(run.callbacks):
        key = _callback_key(i, cb)
        if hasattr(cb, "load_state_dict"):
            if key not in states:
                raise CheckpointError(
                    f"checkpoint: expected a state for callback {key}, got states for "
                    f"{sorted(states)} (resume with the callbacks of the saved run)"
                )
            cb.load_state_dict(states[key])
    torch.set_rng_state(saved["torch_rng"])
    generator = run.train_loader.generator
    if generator is not None and saved["loader_rng"] is not None:
        generator.set_state(saved["loader_rng"])


class Checkpoint(Callback):
    """Write a checkpoint after every epoch; optionally resume from it first.

    Parameters
    ----------
    path
        The checkpoint file (its folder must exist).
    resume
        When the file exists at the start of training, restore the run from it and
        continue exactly where it stopped (same batches, same random draws).
    """

    def __init__(self, path: str | Path, *, resume: bool = False):
        self.path = Path(path)
        self.resume = resume

    def on_fit_start(self, run: Run) -> None:
        if self.resume and self.path.exists():
            restore(run, load_checkpoint(self.path))

    def on_epoch_end(self, run: Run) -> None:
        save_checkpoint(self.path, run)
