"""The callback protocol of the training loop, and early stopping.

A callback is any object with some of the methods of :class:`Callback`; the loop calls
each at its moment, in the order the callbacks were given (after the built-in early
stopping). Callbacks that hold state worth resuming implement ``state_dict`` and
``load_state_dict``; :class:`~deepalloc.training.Checkpoint` saves and restores them.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from deepalloc.training.run import Run, TrainingError


class Callback:
    """Base class with every hook as a no-op; subclass and override what you need.

    Notes
    -----
    on_fit_start(run)
        Once, before the first epoch (after seeding, before any resume).
    on_batch_end(run, batch, loss)
        After each optimizer step: batch index in the epoch and the batch's loss.
    on_epoch_end(run)
        After each epoch, once its training loss and validation scores (``run.scores``)
        are recorded in ``run.state.rows``. Set ``run.stop = True`` to stop.
    on_fit_end(run)
        Once, after the last epoch.
    """

    def on_fit_start(self, run: Run) -> None:
        """Called once before training."""

    def on_batch_end(self, run: Run, batch: int, loss: float) -> None:
        """Called after every optimizer step."""

    def on_epoch_end(self, run: Run) -> None:
        """Called after every epoch."""

    def on_fit_end(self, run: Run) -> None:
        """Called once after training."""


class EarlyStopping(Callback):
    """Stop when a validation metric has not improved for ``patience`` epochs, and
    restore the weights of the best epoch at the end.

    Parameters
    ----------
    monitor
        Name of a validation metric (``"loss"`` is the training loss on the validation
        loader); lower is better.
    patience
        Epochs without improvement before stopping.
    restore_best
        Load the best epoch's weights into the network when training ends.

    Raises
    ------
    deepalloc.training.TrainingError
        When training ends (or stops) without a single finite value of ``monitor``.
    """

    def __init__(self, monitor: str = "loss", patience: int = 15, *, restore_best: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience: expected a positive integer, got {patience!r}")
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self.reset()

    def reset(self) -> None:
        """Forget every epoch seen."""
        self.best_score = math.inf
        self.best_epoch: int | None = None
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped_early = False

    def on_fit_start(self, run: Run) -> None:
        self.reset()

    def on_epoch_end(self, run: Run) -> None:
        if self.monitor not in run.scores:
            raise ValueError(
                f"monitor: expected one of the validation metrics {sorted(run.scores)}, "
                f"got {self.monitor!r}"
            )
        score = run.scores[self.monitor]
        if math.isfinite(score) and score < self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, run.state.epoch, 0
            self.best_weights = {k: v.detach().clone() for k, v in run.network.state_dict().items()}
        else:
            self.bad_epochs += 1
        if self.bad_epochs >= self.patience:
            self._require_finite(run)
            self.stopped_early = run.state.epoch < run.epochs
            run.stop = True

    def on_fit_end(self, run: Run) -> None:
        self._require_finite(run)
        if self.restore_best and self.best_weights is not None:
            run.network.load_state_dict(self.best_weights)

    def _require_finite(self, run: Run) -> None:
        if self.best_epoch is None:
            raise TrainingError(
                f"early stopping: expected a finite validation {self.monitor!r} in some "
                f"epoch, got none in epochs 1..{run.state.epoch} (NaN or infinite every time)"
            )

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly."""
        return {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
            "bad_epochs": self.bad_epochs,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.best_score = float(state["best_score"])
        self.best_epoch = state["best_epoch"]
        self.best_weights = state["best_weights"]
        self.bad_epochs = int(state["bad_epochs"])


class ProgressBar(Callback):
    """A tqdm progress bar over epochs (works in notebooks), with the latest losses."""

    def __init__(self) -> None:
        self.bar: Any = None

    def on_fit_start(self, run: Run) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=run.epochs, desc="epochs", unit="epoch", leave=False)

    def on_epoch_end(self, run: Run) -> None:
        if self.bar is None:
            return
        if self.bar.n == 0 and run.state.epoch > 1:  # resumed: start where it stopped
            self.bar.update(run.state.epoch - 1)
        postfix = {"loss": f"{run.last('train', 'loss'):.4g}"}
        postfix.update({f"val_{k}": f"{v:.4g}" for k, v in list(run.scores.items())[:1]})
        self.bar.set_postfix(postfix)
        self.bar.update(1)

    def on_fit_end(self, run: Run) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
