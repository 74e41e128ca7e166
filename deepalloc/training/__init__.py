"""Training: ``fit`` any network on any loss; ``predict`` weights for new data.

The loop (:mod:`~deepalloc.training.loop`) is made of small parts: the epoch step
(:mod:`~deepalloc.training.step`), the run it drives (:mod:`~deepalloc.training.run`),
callbacks (:mod:`~deepalloc.training.callbacks`: early stopping, progress, user hooks),
checkpoints (:mod:`~deepalloc.training.checkpoint`), loggers
(:mod:`~deepalloc.training.loggers`), optimizer and penalty objects
(:mod:`~deepalloc.training.optim`) and inference (:mod:`~deepalloc.training.predict`).
:func:`retain_freed_memory` makes CPU training steps reuse freed memory (glibc), which
halved a recurrent network's step in ``benchmarks/RESULTS.md``.
"""

from deepalloc._memory import retain_freed_memory
from deepalloc.training.callbacks import Callback, EarlyStopping, ProgressBar
from deepalloc.training.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from deepalloc.training.loggers import MLflowLogger, TensorBoardLogger
from deepalloc.training.loop import FitResult, fit
from deepalloc.training.optim import DEFAULT_OPTIMIZER, ParameterPenalty
from deepalloc.training.predict import evaluate_metrics, predict
from deepalloc.training.run import Run, TrainingError, TrainingState

__all__ = [
    "DEFAULT_OPTIMIZER",
    "Callback",
    "Checkpoint",
    "CheckpointError",
    "EarlyStopping",
    "FitResult",
    "MLflowLogger",
    "ParameterPenalty",
    "ProgressBar",
    "Run",
    "TensorBoardLogger",
    "TrainingError",
    "TrainingState",
    "evaluate_metrics",
    "fit",
    "load_checkpoint",
    "predict",
    "retain_freed_memory",
    "save_checkpoint",
]
