"""Resumable suites: every finished fold is stored on disk and reused by a re-run.

The file of a fold is named by a key that hashes everything its result depends on: the
data (features, targets, dates, assets), the fold's samples, the strategies (names,
losses, fit options, the code of the build functions, the baselines' settings and
buffers), the seeds, the threads per fold and the deepalloc version. A re-run with the
same configuration finds the files and skips those folds, giving bit-identical results;
any change gives other keys, so stale folds are never reused. A change the key cannot
see (a module that a build function calls, for example) needs a fresh ``cache_dir``.

Files are written atomically and read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from deepalloc._files import atomic_writer
from deepalloc._version import __version__
from deepalloc.evaluation.folds import FoldJob, FoldOutput, prediction_index
from deepalloc.evaluation.strategies import BaselineStrategy

FORMAT = "deepalloc-suite-fold"
VERSION = 1
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable_repr(value: object) -> str:
    """``repr`` without memory addresses, which change from run to run."""
    return _ADDRESS.sub("", repr(value))


def _code(function: Any) -> str:
    """The bytecode, constants and closure values of a build function."""
    code = getattr(function, "__code__", None)
    if code is None:  # a class or a callable object: its type and settings
        return f"{getattr(function, '__qualname__', type(function).__qualname__)}:{_stable_repr(function)}"
    cells = [c.cell_contents for c in (getattr(function, "__closure__", None) or ())]
    return "|".join(
        [
            function.__module__,
            function.__qualname__,
            code.co_code.hex(),
            _stable_repr(code.co_consts),
            _stable_repr(cells),
        ]
    )


def _tensor_digest(hasher: Any, tensor: torch.Tensor) -> None:
    hasher.update(tensor.detach().cpu().contiguous().numpy().tobytes())


def fold_key(job: FoldJob) -> str:
    """The hash that names a fold's cache file."""
    h = hashlib.sha256()
    w = job.windows
    _tensor_digest(h, w.data)
    if w.target_data is not None:
        _tensor_digest(h, w.target_data)
    h.update(np.asarray(w.dates.asi8).tobytes())
    h.update(repr([list(map(str, w.assets)), w.channels, w.target_channels]).encode())
    h.update(repr([w.lookback, w.horizon, w.gap, w.returns_kind, str(w.data.dtype)]).encode())
    for part in (job.fold.train, job.fold.val, job.fold.test):
        h.update(np.asarray(part, dtype=np.int64).tobytes() + b"|")
    h.update(repr([job.index, job.seed, job.seeds, job.threads, __version__]).encode())
    for s in job.strategies:
        if isinstance(s, BaselineStrategy):
            h.update(f"baseline|{s.name}|{_stable_repr(s.rule)}".encode())
            for tensor in s.rule.state_dict().values():
                _tensor_digest(h, tensor)
        else:
            text = f"network|{s.name}|{_stable_repr(s.loss)}|{_stable_repr(s.fit_options)}"
            h.update((text + "|" + _code(s.build)).encode())
    return h.hexdigest()


class FoldCache:
    """Finished folds of a suite in ``folder`` (created if needed)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, job: FoldJob) -> Path:
        """The file of ``job``'s result."""
        return self.folder / f"fold-{job.index:03d}-{fold_key(job)[:24]}.pt"

    def load(self, job: FoldJob) -> FoldOutput | None:
        """The stored result of ``job``, or ``None`` when it has not finished before."""
        path = self.path(job)
        if not path.exists():
            return None
        saved = torch.load(path, weights_only=True)
        if saved.get("format") != FORMAT or saved.get("version") != VERSION:
            return None
        dates = prediction_index(job.windows, job.fold.test)
        weights = {
            name: pd.DataFrame(values.numpy(), index=dates, columns=job.windows.assets)
            for name, values in saved["weights"].items()
        }
        histories = [pd.DataFrame(h) for h in saved["histories"]]
        return FoldOutput(job.index, weights, histories, saved["states"])

    def save(self, job: FoldJob, output: FoldOutput) -> None:
        """Store ``output`` atomically."""
        content = {
            "format": FORMAT,
            "version": VERSION,
            "weights": {
                name: torch.from_numpy(frame.to_numpy(dtype=np.float64, copy=True))
                for name, frame in output.weights.items()
            },
            "histories": [h.to_dict(orient="list") for h in output.histories],
            "states": output.states,
        }
        with atomic_writer(self.path(job)) as file:
            torch.save(content, file)
