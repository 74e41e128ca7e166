"""Training loggers (TensorBoard, MLflow) as callbacks; their packages are extras,
imported lazily when a logger is created."""

from __future__ import annotations

import importlib
from typing import Any

from deepalloc.training.callbacks import Callback
from deepalloc.training.run import Run


def _require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is needed for this logger: install the extra with "
            f"pip install 'deepalloc[{extra}]'"
        ) from err


def epoch_metrics(run: Run) -> dict[str, float]:
    """The current epoch's history rows as ``{"split/metric": value}``."""
    epoch = run.state.epoch
    return {
        f"{row['split']}/{row['metric']}": row["value"]
        for row in run.state.rows
        if row["epoch"] == epoch
    }


class TensorBoardLogger(Callback):
    """Write every epoch's metrics as TensorBoard scalars under ``log_dir`` (extra
    ``tensorboard``)."""

    def __init__(self, log_dir: str):
        tensorboard = _require("torch.utils.tensorboard", "tensorboard")
        self.writer = tensorboard.SummaryWriter(log_dir=log_dir)

    def on_epoch_end(self, run: Run) -> None:
        for name, value in epoch_metrics(run).items():
            self.writer.add_scalar(name, value, run.state.epoch)
        self.writer.flush()


class MLflowLogger(Callback):
    """Log every epoch's metrics to the active MLflow run (extra ``mlflow``)."""

    def __init__(self) -> None:
        self.mlflow = _require("mlflow", "mlflow")

    def on_epoch_end(self, run: Run) -> None:
        clean = {name.replace("/", "_"): v for name, v in epoch_metrics(run).items()}
        self.mlflow.log_metrics(clean, step=run.state.epoch)


__all__ = [
    "MLflowLogger",
    "TensorBoardLogger",
    "epoch_metrics",
]
