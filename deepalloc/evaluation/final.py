"""Tomorrow's weights: every strategy trained once more on all the data.

After a walk-forward evaluation, :func:`train_final` trains each network strategy (for
every seed) on every sample, holding out the last validation block (purged) for early
stopping as the folds did, and gives every strategy's weights decided at the close of
the data's last date, to hold from the next business day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from deepalloc.data import Fold, Windows, purge_size
from deepalloc.evaluation.folds import fold_threads, train_network, training_seed
from deepalloc.evaluation.strategies import (
    BaselineStrategy,
    NetworkStrategy,
    Strategy,
    ensemble_name,
    seed_run_name,
    with_equal_weight,
)
from deepalloc.models import holding_date
from deepalloc.models.use import decide_with_holdings
from deepalloc.training import predict


def final_fold(
    windows: Windows, *, val_size: int | float = 0, train_size: int | str | None = None
) -> Fold:
    """Every sample for training but the last ``val_size`` (samples, or a fraction of all
    samples, as the walk-forward folds take a fraction of theirs), purged before them;
    ``train_size`` keeps only that many training samples, or that calendar span (a pandas
    offset) before the validation block, as a rolling walk-forward window does. The test
    block is empty."""
    n = windows.n_samples
    n_val = round(val_size * n) if isinstance(val_size, float) else int(val_size)
    if not 0 <= n_val < n:
        raise ValueError(
            f"val_size: expected fewer validation samples than the {n} samples, got {n_val}"
        )
    purge = purge_size(windows.lookback, windows.gap, windows.horizon) if n_val else 0
    end = n - n_val - purge
    if isinstance(train_size, str):
        ts = windows.timestamps
        first = ts[min(end, n - 1)] - pd.tseries.frequencies.to_offset(train_size)
        start = int(ts.searchsorted(first))
    else:
        start = 0 if train_size is None else max(0, end - train_size)
    if end <= start:
        raise ValueError(
            f"final_fold: expected training samples before the validation block, got none "
            f"({n} samples, {n_val} for validation, purge {purge})"
        )
    return Fold(train=np.arange(start, end), val=np.arange(n - n_val, n), test=np.arange(0))


@dataclass
class FinalRun:
    """What :func:`train_final` returns.

    Attributes
    ----------
    networks
        Run name (``name`` or ``name:seed<k>``) -> the network trained on all data.
    weights
        Strategies x assets: each strategy's weights decided at ``decision_date``'s
        close (an ensemble row averages a network's seeds); equal weight included.
    decision_date, holding_date
        The last date of the data, and the next business day, from which to hold them.
    histories
        Training histories, with ``strategy`` and ``seed`` columns.
    """

    networks: dict[str, nn.Module]
    weights: pd.DataFrame
    decision_date: pd.Timestamp
    holding_date: pd.Timestamp
    histories: pd.DataFrame


def train_final(
    windows: Windows,
    strategies: Sequence[Strategy],
    *,
    val_size: int | float = 0,
    train_size: int | str | None = None,
    seed: int = 0,
    seeds: int = 1,
    fold_index: int = 0,
    threads: int | None = 1,
    holdings: Mapping[str, pd.Series] | None = None,
) -> FinalRun:
    """Train every network strategy on all of ``windows`` and decide the latest weights.

    Parameters
    ----------
    windows
        The whole history (with targets for training).
    strategies
        As for :func:`~deepalloc.evaluation.run_suite` (equal weight is added).
    val_size, train_size
        The final fold (:func:`final_fold`): validation block held out at the end, and
        an optional rolling training window in samples.
    seed, seeds, fold_index
        Training seeds, as a suite fold with index ``fold_index`` would use them.
    threads
        Torch and BLAS threads while training.
    holdings
        Run name -> the weights held at the last close before trading (for example the
        suite's backtest holdings, drifted through the last date), for holdings-aware
        networks; a run without them decides as from cash.
    """
    fold = final_fold(windows, val_size=val_size, train_size=train_size)
    # the last window alone, as deepalloc.models.latest_weights reads it: a batch of one
    # gives the same bits there and here (a larger batch may take another BLAS kernel)
    everything = windows.without_targets()
    latest = everything.inputs([everything.n_samples - 1])
    networks: dict[str, nn.Module] = {}
    histories = []
    with fold_threads(threads):
        for position, strategy in enumerate(with_equal_weight(strategies)):
            if not isinstance(strategy, NetworkStrategy):
                continue
            for k in range(seeds):
                run = seed_run_name(strategy.name, k, seeds)
                seed_k = training_seed(seed, fold_index, position, k)
                fitted = train_network(strategy, windows, fold.train, fold.val, seed_k)
                networks[run] = fitted.network
                histories.append(fitted.history.assign(strategy=run, seed=k))
    # decided with the caller's threads, as deepalloc predict decides: float32 sums on
    # another number of threads may differ in the last bit
    rows: dict[str, pd.Series] = {}
    for strategy in with_equal_weight(strategies):
        if isinstance(strategy, BaselineStrategy):
            rows[strategy.name] = predict(strategy.rule, latest).iloc[-1]
            continue
        runs = [seed_run_name(strategy.name, k, seeds) for k in range(seeds)]
        for run in runs:
            held = (holdings or {}).get(run)
            if getattr(networks[run], "holdings_aware", False) and held is not None:
                vector = held.reindex(latest.assets, fill_value=0.0)
                rows[run] = decide_with_holdings(networks[run], latest, vector).iloc[-1]
            else:
                rows[run] = predict(networks[run], latest).iloc[-1]
        if seeds > 1:
            rows[ensemble_name(strategy.name)] = sum(rows[r] for r in runs) / seeds
    decision = pd.Timestamp(windows.dates[-1])
    return FinalRun(
        networks=networks,
        weights=pd.DataFrame(rows).T.rename_axis("strategy"),
        decision_date=decision,
        holding_date=holding_date(decision),
        histories=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame(),
    )
