"""Optional training loggers (TensorBoard, MLflow), imported lazily."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Logger(Protocol):
    """Receives the metrics of every epoch."""

    def log(self, metrics: Mapping[str, float], step: int) -> None: ...


def _require(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{module} is needed for this logger: install the extra with "
            f"pip install 'deepalloc[{extra}]'"
        ) from err


class TensorBoardLogger:
    """Write epoch metrics as TensorBoard scalars under ``log_dir`` (extra ``tensorboard``)."""

    def __init__(self, log_dir: str):
        tensorboard = _require("torch.utils.tensorboard", "tensorboard")
        self.writer = tensorboard.SummaryWriter(log_dir=log_dir)

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for name, value in metrics.items():
            self.writer.add_scalar(name, value, step)
        self.writer.flush()


class MLflowLogger:
    """Log epoch metrics to the active MLflow run (extra ``mlflow``)."""

    def __init__(self) -> None:
        self.mlflow = _require("mlflow", "mlflow")

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        clean = {name.replace("/", "_"): value for name, value in metrics.items()}
        self.mlflow.log_metrics(clean, step=step)
