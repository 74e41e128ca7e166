"""Resumable suites: finished folds are stored, reused bit for bit, and invalidated by
any change of configuration."""

import functools

import pandas as pd
import torch

from deepalloc.evaluation import NetworkStrategy, run_suite
from deepalloc.evaluation import folds as fold_module
from deepalloc.losses import SharpeLoss, VolatilityLoss
from tests.evaluation.conftest import small_dense


def run(setup, cache_dir, strategies=None, **kw):
    returns, windows, folds, default = setup
    return run_suite(
        windows,
        strategies or default,
        folds,
        returns=returns,
        costs_bps=5,
        cache_dir=cache_dir,
        **kw,
    )


def count_fits(monkeypatch):
    calls = []
    real = fold_module.fit

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fold_module, "fit", counting)
    return calls


def test_a_rerun_reuses_every_fold_bit_for_bit(setup, tmp_path, monkeypatch):
    first = run(setup, tmp_path)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == len(setup[2])
    calls = count_fits(monkeypatch)
    again = run(setup, tmp_path)
    assert calls == []  # nothing trained again
    pd.testing.assert_frame_equal(first.table, again.table, check_exact=True)
    for name, weights in first.weights.items():
        pd.testing.assert_frame_equal(weights, again.weights[name], check_exact=True)
    pd.testing.assert_frame_equal(first.histories, again.histories, check_exact=True)
    for a, b in zip(first.states, again.states):
        for run_name, state in a.items():
            for key, value in state.items():
                assert torch.equal(value, b[run_name][key])


def test_a_partial_cache_resumes_with_the_same_result(setup, tmp_path, monkeypatch):
    full = run(setup, tmp_path / "full")
    run(setup, tmp_path / "partial")
    stored = sorted((tmp_path / "partial").iterdir())
    for path in stored[1:]:  # as if the run had died after its first fold
        path.unlink()
    calls = count_fits(monkeypatch)
    resumed = run(setup, tmp_path / "partial")
    assert len(calls) == len(stored) - 1  # only the missing folds were trained
    pd.testing.assert_frame_equal(full.table, resumed.table, check_exact=True)


def test_any_change_of_configuration_invalidates_the_cache(setup, tmp_path, monkeypatch):
    run(setup, tmp_path)
    calls = count_fits(monkeypatch)
    changed_loss = [
        NetworkStrategy(
            "dense",
            small_dense,
            VolatilityLoss(),
            {"epochs": 3, "optimizer": functools.partial(torch.optim.Adam, lr=1e-2)},
        )
    ]
    run(setup, tmp_path, strategies=changed_loss)
    assert len(calls) == len(setup[2])
    calls.clear()
    run(setup, tmp_path, seed=99)
    assert len(calls) == len(setup[2])
    calls.clear()
    changed_lr = [
        NetworkStrategy(
            "dense",
            small_dense,
            SharpeLoss(),
            {"epochs": 3, "optimizer": functools.partial(torch.optim.Adam, lr=2e-2)},
        )
    ]
    run(setup, tmp_path, strategies=changed_lr)
    assert len(calls) == len(setup[2])
