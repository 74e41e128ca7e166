"""deepalloc run --final trains on all data and writes tomorrow's weights; deepalloc
predict on a saved model reproduces them exactly."""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deepalloc.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def final_run(tmp_path_factory):
    """examples/config.toml in a small setting (one fold, two epochs), run with --final."""
    folder = tmp_path_factory.mktemp("final")
    text = (EXAMPLES / "config.toml").read_text()
    config = tomllib.loads(text)
    text = text.replace('path = "data/prices.csv"', f'path = "{EXAMPLES / "data" / "prices.csv"}"')
    text = text.replace('initial_train = "2019-01-01"', 'initial_train = "2022-01-01"')
    text = text.replace("epochs = 15", "epochs = 2")
    assert config["training"]["seeds"] == 1
    (folder / "config.toml").write_text(text)
    code = main(
        [
            "run",
            str(folder / "config.toml"),
            "--final",
            "--no-progress",
            "--output",
            str(folder / "out"),
        ]
    )
    assert code == 0
    return folder / "out"


def test_latest_weights_are_for_the_day_after_the_last_date(final_run):
    latest = pd.read_csv(final_run / "latest_weights.csv", index_col="strategy")
    prices = pd.read_csv(EXAMPLES / "data" / "prices.csv", index_col=0, parse_dates=True)
    last = prices.index[-1]
    assert (pd.to_datetime(latest["date"]) == last + pd.offsets.BDay(1)).all()
    weights = latest.drop(columns="date")
    assert list(weights.columns) == list(prices.columns)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    assert {"lstm_softmax", "dense_markowitz", "inverse_volatility", "equal_weight"} <= set(
        latest.index
    )
    assert (final_run / "models" / "lstm_softmax.pt").exists()


@pytest.mark.parametrize("strategy", ["lstm_softmax", "dense_markowitz"])
def test_predict_on_the_saved_model_reproduces_them(final_run, strategy, tmp_path):
    out = tmp_path / "w.csv"
    args = [
        "predict",
        str(final_run / "models" / f"{strategy}.pt"),
        str(EXAMPLES / "data" / "prices.csv"),
    ]
    assert main([*args, "--output", str(out)]) == 0
    predicted = pd.read_csv(out, index_col="strategy")
    latest = pd.read_csv(final_run / "latest_weights.csv", index_col="strategy")
    pd.testing.assert_frame_equal(predicted, latest.loc[[strategy]], check_exact=True)


def test_predict_errors_are_one_line(final_run, tmp_path, capsys):
    prices = pd.read_csv(EXAMPLES / "data" / "prices.csv", index_col=0)
    prices.drop(columns=prices.columns[0]).to_csv(tmp_path / "fewer.csv")
    model = str(final_run / "models" / "lstm_softmax.pt")
    assert main(["predict", model, str(tmp_path / "fewer.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepalloc: error: prices") and f"without ['{prices.columns[0]}']" in err
    assert "\n" not in err
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    assert main(["predict", str(tmp_path / "bad.pt"), str(EXAMPLES / "data" / "prices.csv")]) == 2
    assert "deepalloc: error: model file" in capsys.readouterr().err
    dated = ["predict", model, str(EXAMPLES / "data" / "prices.csv"), "--date", "2022-06-30"]
    assert main(dated) == 0
    assert "2022-07-01" in capsys.readouterr().out
