"""The nested search on Ray Tune: a small search on the bundled data (2 CPUs, 4 trials
of 2 epochs per fold), its choice, its leakage-proofness, its reproducibility, and the
extras it needs. One local Ray instance serves the module (started and stopped here)."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray.tune")

from deepalloc.data import make_windows, prices_to_returns, walk_forward_folds
from deepalloc.datasets import load_factor_etfs
from deepalloc.evaluation.cluster import require
from deepalloc.evaluation.tuning import Search, tune_suite
from deepalloc.training import Callback
from examples import tuning

MAX_LOOKBACK = max(tuning.SPACE["lookback"].values)


class Record(Callback):
    """Writes, at the start of each trial's training, every date its data holds."""

    def __init__(self, folder: str):
        self.folder = folder

    def on_fit_start(self, run) -> None:
        from ray import tune

        context = tune.get_context()
        windows = run.train_loader.windows
        assert run.val_loader is not None and run.val_loader.windows is windows
        record = {
            "experiment": context.get_experiment_name(),
            "trial": context.get_trial_id(),
            "lookback": windows.lookback,
            "dates": [str(d.date()) for d in windows.dates],
        }
        path = Path(self.folder) / f"{record['trial']}.json"
        path.write_text(json.dumps(record))


@pytest.fixture(scope="module")
def ray_instance():
    """A local Ray instance with 2 CPUs in a short temporary folder, stopped after."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # Record, in the workers
    temp = tempfile.mkdtemp(prefix="da-ray-", dir="/tmp")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=temp,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def searches(ray_instance, tmp_path_factory):
    """The example's search run twice with the same seed, its trials recorded."""
    runs = []
    for k in range(2):
        records = tmp_path_factory.mktemp(f"records{k}")
        storage = tmp_path_factory.mktemp(f"tune{k}")
        result = tuning.main(storage=str(storage), callbacks=[Record(str(records))])
        runs.append((result, records))
    return runs


def test_search_finishes_and_each_fold_chooses_its_best_inner_score(searches):
    result, _ = searches[0]
    trials, chosen, curves = result.trials, result.chosen, result.curves
    assert list(trials.groupby("fold").size()) == [4, 4]
    assert (trials["error"] == "").all()
    # trials are numbered in the order Ray Tune created them (random search: the id's suffix)
    assert (trials["trial_id"].str.split("_").str[-1].astype(int) == trials["trial"]).all()
    assert trials["epochs"].between(1, 2).all()
    for fold, part in curves.groupby("fold"):
        # the score of a trial is its best reported validation loss; the choice the best trial
        best = part.groupby("trial")["score"].min()
        row = chosen.set_index("fold").loc[fold]
        assert row["trial"] == best.idxmin()
        assert row["score"] == best.min()
        trial = trials[(trials["fold"] == fold) & (trials["trial"] == row["trial"])].iloc[0]
        for name in tuning.SPACE:
            assert row[name] == trial[name]
    suite = result.suite
    assert set(suite.table.index) == {"lstm_tuned", "inverse_volatility", "equal_weight"}
    assert suite.configurations == 4
    # the deflated Sharpe ratio counts every configuration tried for the tuned strategy
    assert (suite.significance()["n_trials"] == (len(suite.table) - 1) * 4).all()


def test_retraining_the_choice_repeats_the_chosen_trial(searches):
    """The retrain uses the trial's blocks, seed and threads: its validation losses are
    the chosen trial's, epoch for epoch (float32, one thread: same operations)."""
    result, _ = searches[0]
    history = result.suite.histories
    for _, row in result.chosen.iterrows():
        curve = result.curves[
            (result.curves["fold"] == row["fold"]) & (result.curves["trial"] == row["trial"])
        ]
        val = history[
            (history["fold"] == row["fold"])
            & (history["split"] == "val")
            & (history["metric"] == "loss")
        ].set_index("epoch")["value"]
        np.testing.assert_allclose(
            val.loc[curve["epoch"]].to_numpy(), curve["score"].to_numpy(), rtol=1e-6
        )


def test_no_outer_test_row_reaches_any_trial(searches):
    """Every date any trial of fold k held (its windows' inputs and targets) lies before
    the first row that fold k's test block reads as input under any lookback."""
    result, records = searches[0]
    returns = prices_to_returns(load_factor_etfs()).loc["2019-01-01":]
    windows = make_windows(returns, lookback=40, horizon=20)
    folds = walk_forward_folds(
        windows, test_size="Y", initial_train="2021-01-01", train_size=250, val_size=0.2
    )
    files = sorted(Path(records).glob("*.json"))
    assert len(files) == len(result.trials) == 8
    seen_lookbacks = set()
    for file in files:
        record = json.loads(file.read_text())
        fold = int(record["experiment"].split("-")[1])
        first_test = windows.timestamps[folds[fold].test[0]]
        first_input = returns.index[returns.index.get_loc(first_test) - MAX_LOOKBACK + 1]
        dates = pd.DatetimeIndex(record["dates"])
        assert dates.max() < first_input, (record["experiment"], dates.max(), first_input)
        seen_lookbacks.add(record["lookback"])
    assert seen_lookbacks == {20, 40}  # trials cut their own windows


def test_same_seed_gives_the_same_trials_and_choice(searches):
    (first, _), (second, _) = searches
    columns = ["fold", "trial", *tuning.SPACE, "score", "best_epoch", "epochs"]
    pd.testing.assert_frame_equal(first.trials[columns], second.trials[columns])
    pd.testing.assert_frame_equal(first.chosen[columns], second.chosen[columns])
    pd.testing.assert_frame_equal(first.suite.table, second.suite.table)


def test_a_storage_folder_holds_one_search(tmp_path):
    returns = prices_to_returns(load_factor_etfs()).loc["2019-01-01":]
    args = dict(
        lookback=40,
        horizon=20,
        storage=tmp_path,
        search=Search(num_samples=2),
    )
    folds = lambda w: walk_forward_folds(w, test_size="Y", initial_train="2022-01-01", val_size=0.2)  # noqa: E731
    (tmp_path / "search.json").write_text("{}")
    with pytest.raises(ValueError, match="storage: expected a folder without a search"):
        tune_suite(returns, tuning.lstm, tuning.SPACE, folds, **args)
    args["search"] = Search(num_samples=2, resume=True)
    with pytest.raises(ValueError, match="storage: expected the search stored .* differs in"):
        tune_suite(returns, tuning.lstm, tuning.SPACE, folds, **args)


def test_missing_extras_are_named(monkeypatch, tmp_path):
    returns = prices_to_returns(load_factor_etfs()).loc["2019-01-01":]
    folds = lambda w: walk_forward_folds(w, test_size="Y", initial_train="2022-01-01", val_size=0.2)  # noqa: E731
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ImportError, match=r"'optuna' extra: pip install 'deepalloc\[optuna\]'"):
        tune_suite(
            returns,
            tuning.lstm,
            tuning.SPACE,
            folds,
            lookback=40,
            horizon=20,
            storage=tmp_path,
            search=Search(algorithm="tpe"),
        )
    monkeypatch.setitem(sys.modules, "ray.tune", None)
    with pytest.raises(ImportError, match=r"'tune' extra: pip install 'deepalloc\[tune\]'"):
        tune_suite(
            returns, tuning.lstm, tuning.SPACE, folds, lookback=40, horizon=20, storage=tmp_path
        )
    assert not list(tmp_path.iterdir())  # nothing written before the check


def test_require_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match=r"install the 'ray' extra"):
        require("ray", "ray")


RESUMABLE = """
import os, sys, time
from pathlib import Path

from deepalloc.training import Callback
from deepalloc.tune import SearchInterrupted
from examples import tuning


class Record(Callback):
    def __init__(self, folder):
        self.folder = folder

    def _write(self, event):
        from ray import tune

        trial = tune.get_context().get_trial_id()
        (Path(self.folder) / f"{event}-{trial}-{os.getpid()}-{time.time_ns()}").touch()

    def on_fit_start(self, run):
        self._write("start")

    def on_fit_end(self, run):
        self._write("end")


storage, records, resume, out = sys.argv[1:5]
try:
    result = tuning.main(
        first_test="2022-01-01",
        num_samples=6,
        storage=storage,
        resume=resume == "1",
        callbacks=[Record(records)],
        cluster=tuning.Cluster(num_cpus=2, temp_dir=sys.argv[5]),
    )
except SearchInterrupted:
    sys.exit(3)
result.trials.to_csv(out, index=False)
"""


def _starts(folder: Path) -> list[str]:
    """Trial ids in the order their training started."""
    files = [p.name.split("-") for p in folder.glob("start-*")]
    return [trial for _, trial, _, _ in sorted(files, key=lambda f: int(f[3]))]


@pytest.mark.slow
def test_an_interrupted_search_resumes_without_rerunning_finished_trials(tmp_path, ray_instance):
    import os
    import signal
    import subprocess
    import time

    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "search.py"
    script.write_text(RESUMABLE)
    storage, records = tmp_path / "tune", tmp_path / "records"
    records.mkdir()
    temp = tempfile.mkdtemp(prefix="da-ray-", dir="/tmp")
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def command(resume: str, out: str) -> list[str]:
        return [sys.executable, str(script), str(storage), str(records), resume, out, temp]

    try:
        with subprocess.Popen(command("0", "first.csv"), cwd=tmp_path, env=env) as proc:
            deadline = time.monotonic() + 300
            while len(_starts(records)) < 3 and proc.poll() is None:
                assert time.monotonic() < deadline, "no third trial in time"
                time.sleep(0.1)
            proc.send_signal(signal.SIGINT)  # Ctrl-C during the third trial
            assert proc.wait(timeout=180) == 3  # SearchInterrupted, not finished
        # one trial at a time: every trial but the last started had finished
        finished = set(_starts(records)[:-1])
        assert 2 <= len(finished) < 6
        assert not (tmp_path / "first.csv").exists()
        subprocess.run(command("1", "resumed.csv"), cwd=tmp_path, env=env, check=True, timeout=600)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    starts = pd.Series(_starts(records)).value_counts()
    for trial in finished:  # a trial that finished before the interruption never runs again
        assert starts[trial] == 1, trial
    resumed = pd.read_csv(tmp_path / "resumed.csv", keep_default_na=False)
    assert len(resumed) == 6 and (resumed["error"] == "").all()
    assert set(resumed["trial_id"]) == set(starts.index)
    # the sampler resumes where it stopped: the configurations of an uninterrupted run, and
    # the finished trials' results. (ASHA's later decisions may differ: the interrupted
    # trial's first epochs stay in its rungs and the trial reports them again.)
    whole = tuning.main(first_test="2022-01-01", num_samples=6, storage=str(tmp_path / "whole"))
    configurations = ["trial", *tuning.SPACE]
    pd.testing.assert_frame_equal(
        resumed[configurations], whole.trials[configurations], check_dtype=False
    )
    done = resumed["trial_id"].isin(finished).to_numpy()
    for column in ("best_epoch", "epochs"):
        np.testing.assert_array_equal(resumed[column][done], whole.trials[column][done])
    # the same training, seeds and threads; the CSV round trip keeps 15+ digits
    np.testing.assert_allclose(resumed["score"][done], whole.trials["score"][done], rtol=1e-12)


@pytest.mark.slow
def test_optuna_tpe_searches_and_chooses_its_best(ray_instance, tmp_path):
    pytest.importorskip("optuna")
    returns = prices_to_returns(load_factor_etfs()).loc["2020-01-01":]
    result = tune_suite(
        returns,
        tuning.lstm,
        tuning.SPACE,
        lambda w: walk_forward_folds(w, test_size="Y", initial_train="2022-01-01", val_size=0.2),
        lookback=40,
        horizon=20,
        storage=tmp_path,
        search=Search(num_samples=3, algorithm="tpe", scheduler="fifo"),
    )
    trials = result.trials
    assert len(trials) == 3 and (trials["error"] == "").all() and (trials["epochs"] == 2).all()
    assert result.chosen["score"].iloc[0] == trials["score"].min()
    assert set(trials["lookback"]) <= {20, 40}
    assert trials["lr"].between(1e-3, 3e-2).all()
