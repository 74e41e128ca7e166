"""One fold of a suite: train every network (for every seed) on the fold's training
block, and produce every strategy's weights on its test dates."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from deepalloc.data import Fold, SequentialLoader, WindowLoader, Windows
from deepalloc.evaluation.strategies import (
    BaselineStrategy,
    NetworkStrategy,
    SequentialTraining,
    Strategy,
    seed_run_name,
)
from deepalloc.training import FitResult, fit, predict


@dataclass
class FoldJob:
    """Everything a worker needs to run one fold (it pickles)."""

    windows: Windows
    fold: Fold
    index: int
    strategies: Sequence[Strategy]
    seed: int
    seeds: int
    threads: int | None


@dataclass
class FoldOutput:
    """What one fold produces.

    Attributes
    ----------
    index
        Fold index.
    weights
        Run name -> weights on the fold's test decision dates (date x asset); absent
        for holdings-aware networks, which decide along the suite's whole path.
    histories
        Training histories (``strategy``, ``fold`` columns added).
    states
        Run name -> the trained network's ``state_dict`` (networks only).
    """

    index: int
    weights: dict[str, pd.DataFrame]
    histories: list[pd.DataFrame] = field(default_factory=list)
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


@contextlib.contextmanager
def fold_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch and BLAS/OpenMP threads (restored afterwards).

    Parallel folds would otherwise each start a thread per core and oversubscribe the
    machine; a fixed number also makes parallel and serial runs reduce in the same order.
    """
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def training_seed(seed: int, fold: int, strategy: int, seed_index: int) -> int:
    """An independent seed for each (suite seed, fold, strategy, seed index)."""
    state = np.random.SeedSequence([seed, fold, strategy, seed_index]).generate_state(1)
    return int(state[0])


def contiguous_blocks(indices: np.ndarray) -> list[np.ndarray]:
    """Split sorted sample indices into runs of consecutive samples."""
    return np.split(indices, np.flatnonzero(np.diff(indices) != 1) + 1)


def _predict_blocks(rule: torch.nn.Module, windows: Windows, indices: np.ndarray) -> pd.DataFrame:
    return pd.concat([predict(rule, windows.inputs(b)) for b in contiguous_blocks(indices)])


def prediction_index(windows: Windows, indices: np.ndarray) -> pd.DatetimeIndex:
    """The decision dates of the weights predicted on the samples ``indices``: the same
    index (frequency included) that predicting block by block gives."""
    frames = [pd.DataFrame(index=windows.inputs(b).timestamps) for b in contiguous_blocks(indices)]
    return pd.DatetimeIndex(pd.concat(frames).index)


def train_network(
    strategy: NetworkStrategy,
    windows: Windows,
    train: np.ndarray,
    val: np.ndarray,
    seed: int,
    *,
    callbacks: Sequence[object] = (),
) -> FitResult:
    """Train a fresh network of ``strategy`` on the samples ``train`` (early stopping on
    ``val`` when not empty), as every fold of a suite does.

    The network is built under a fork of the global generator seeded with ``seed``, and
    trained with ``seed``; ``callbacks`` are added after the strategy's own.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = strategy.build(windows.data.shape[0], windows.data.shape[1], windows.lookback)
    options = copy.deepcopy(strategy.fit_options)
    batch_size = options.pop("batch_size", 32)
    options.setdefault("progress", False)
    if callbacks:
        options["callbacks"] = [*options.get("callbacks", ()), *callbacks]
    loader: WindowLoader | SequentialLoader
    val_loader: WindowLoader | SequentialLoader | None
    if strategy.sequential is None:
        loader = WindowLoader(windows, train, batch_size=batch_size, shuffle=True, generator=seed)
        val_loader = WindowLoader(windows, val, batch_size=256) if len(val) else None
    else:
        loader, val_loader = _sequential_loaders(strategy.sequential, windows, train, val, seed)
    return fit(network, strategy.loss, loader, val_loader=val_loader, seed=seed, **options)


def _sequential_loaders(
    settings: SequentialTraining, windows: Windows, train: np.ndarray, val: np.ndarray, seed: int
) -> tuple[SequentialLoader, SequentialLoader | None]:
    """Runs over the training samples, and one run over the validation samples."""
    stride = settings.stride or windows.horizon
    loader = SequentialLoader(
        windows,
        train,
        run_length=settings.run_length,
        stride=stride,
        batch_size=settings.batch_size,
        shuffle=True,
        generator=seed,
        costs_bps=settings.costs_bps,
        truncate_every=settings.truncate_every,
    )
    val_loader = None
    if len(val):
        val_loader = SequentialLoader(
            windows, val, run_length=None, stride=stride, costs_bps=settings.costs_bps
        )
    return loader, val_loader


def run_fold(job: FoldJob) -> FoldOutput:
    """Weights of every strategy (each network for every seed) on the fold's test dates."""
    windows, fold = job.windows, job.fold
    out = FoldOutput(job.index, {})
    with fold_threads(job.threads):
        for position, strategy in enumerate(job.strategies):
            if isinstance(strategy, BaselineStrategy):
                out.weights[strategy.name] = _predict_blocks(strategy.rule, windows, fold.test)
                continue
            for k in range(job.seeds):
                run = seed_run_name(strategy.name, k, job.seeds)
                seed = training_seed(job.seed, job.index, position, k)
                result = train_network(strategy, windows, fold.train, fold.val, seed)
                out.histories.append(result.history.assign(strategy=run, fold=job.index, seed=k))
                if not getattr(result.network, "holdings_aware", False):
                    # a holdings-aware network decides along the suite's one portfolio,
                    # after every fold is trained (deepalloc.evaluation.holdings)
                    out.weights[run] = _predict_blocks(result.network, windows, fold.test)
                out.states[run] = {
                    name: t.detach().cpu().clone()
                    for name, t in result.network.state_dict().items()
                }
    return out
