"""Every example runs, in a small setting, so examples never rot."""

import math

import pytest

from examples import (
    backtest_external,
    costa_iyengar,
    custom_convex,
    quickstart,
    thesis_architectures,
    zhang_zohren_roberts,
)


def test_quickstart():
    table = quickstart.main(start="2019-01-01", epochs=2)
    assert list(table.columns) == ["dense_softmax", "equal_weight"]
    assert math.isfinite(table.loc["sharpe_ratio", "dense_softmax"])


def test_thesis_architectures():
    table = thesis_architectures.main(start="2020-06-01", epochs=1, convex_epochs=1)
    assert {
        "dense_softmax",
        "conv_softmax",
        "lstm_softmax",
        "lstm_tanh",
        "dense_convex_sectors",
    } <= set(table.index)


def test_zhang_zohren_roberts():
    table = zhang_zohren_roberts.main(first_test="2022-01-01", epochs=1, hidden_size=8)
    assert "lstm_sharpe" in table.index


def test_costa_iyengar_untrained_rows_match_the_paper_and_every_system_runs():
    # one training epoch per system; equal weight and predict-then-optimise do not train,
    # so they must match the paper's table to its rounding
    table = costa_iyengar.main(epochs=1)
    assert list(table.index) == list(costa_iyengar.SYSTEMS)
    for name in ("equal_weight", "predict_then_optimise"):
        row = table.loc[name]
        assert round(row["annual_return"], 3) == row["paper_annual_return"]
        assert round(row["volatility"], 3) == row["paper_volatility"]
        assert round(row["sharpe"], 2) == row["paper_sharpe"]
    ew = table.loc["equal_weight"]
    assert str(ew["first_date"].date()) == "2013-01-25"
    assert str(ew["last_date"].date()) == "2021-10-01" and ew["weeks"] == 454
    for name in ("base", "nominal", "dr"):
        assert math.isfinite(table.loc[name, "sharpe"])
    assert len(table.loc["dr", "learned_delta"]) == costa_iyengar.ROLLS


@pytest.mark.slow
def test_costa_iyengar_full_reproduction_meets_the_issue_targets():
    # the paper's schedule (8 minutes on 2 idle cores); the issue's targets are the
    # predict-then-optimise, nominal and robust rows. The base row trains on solver
    # noise and is not reproducible from run to run (Sharpe 0.48 to 0.99 seen, the
    # example's docstring): only its volatility, stable, is checked
    table = costa_iyengar.main()
    for name in ("predict_then_optimise", "nominal", "dr"):
        row = table.loc[name]
        assert abs(row["sharpe"] - row["paper_sharpe"]) <= 0.15, name
    assert table.loc["dr", "volatility"] < table.loc["nominal", "volatility"]
    assert abs(table.loc["base", "volatility"] - table.loc["base", "paper_volatility"]) <= 0.02


def test_custom_convex():
    out = custom_convex.main(start="2021-06-01", te=0.03)
    weights = out["weights"]
    assert (weights.sum(axis=1) - 1).abs().max() < 1e-6
    assert (weights.diff().abs().sum(axis=1).iloc[1:] <= 0.5 + 1e-6).all()


def test_backtest_external(tmp_path):
    table = backtest_external.main(start="2015-01-01", output=str(tmp_path))
    assert (tmp_path / "weights.csv").exists() and (tmp_path / "equity.png").exists()
    assert table.loc["n_trades", "momentum"] > 10


def test_significance():
    from examples import significance

    out = significance.main(
        start="2018-06-01", first_test="2021-06-01", epochs=1, seeds=2, n_groups=4, n_test_groups=2
    )
    verdicts = out["verdicts"]
    assert any(v.startswith("tcn_softmax:ensemble vs equal_weight: Sharpe ") for v in verdicts)
    table = out["significance"]
    assert (table["holm_p_value"] >= table["p_value"] - 1e-12).all()
    assert out["path_sharpe"].shape[0] == 3  # C(4, 2) * 2 / 4 paths
    assert list(out["seed_summary"].index.get_level_values(0).unique()) == ["tcn_softmax"]


def test_trading_costs(tmp_path):
    from examples import trading_costs

    costs = (10.0, 50.0)
    table = trading_costs.main(
        start="2019-01-01",
        first_test="2021-06-01",
        epochs=1,
        sequential_epochs=1,
        costs=costs,
        output=str(tmp_path),
    )
    versions = {"cost_unaware", "cost_aware", "sequential_no_costs", "equal_weight"}
    assert set(zip(table["costs_bps"], table["training"], strict=True)) == {
        (c, v) for c in costs for v in versions
    }
    assert (table["average_turnover"] >= 0).all() and (table["annual_turnover"] >= 0).all()
    assert (table["sharpe_ci_low"] <= table["sharpe"]).all()
    assert (table["sharpe"] <= table["sharpe_ci_high"]).all()
    aware = table[table["training"] == "cost_aware"]
    assert aware["p_value"].between(0, 1).all()
    assert (aware["difference_ci_low"] <= aware["sharpe_difference"]).all()
    assert (aware["sharpe_difference"] <= aware["difference_ci_high"]).all()
    assert table.loc[table["training"] != "cost_aware", "p_value"].isna().all()
    # the versions not trained for a cost trade the same weights at every cost
    for version in ("cost_unaware", "sequential_no_costs", "equal_weight"):
        turnover = table.loc[table["training"] == version, "average_turnover"]
        assert turnover.max() - turnover.min() < 1e-12
    unaware = table[table["training"] == "cost_unaware"].set_index("costs_bps")
    ratio = aware.set_index("costs_bps")["average_turnover"] / unaware["average_turnover"]
    assert abs(aware.set_index("costs_bps")["turnover_vs_unaware"] - ratio).max() < 1e-12
    # one fold: every network trained at least one epoch and at most the epochs asked
    epochs = table.attrs["epochs"]
    assert len(epochs) == 2 + len(costs) and epochs.to_numpy().min() >= 1
    assert epochs.to_numpy().max() <= 1
    assert (tmp_path / "turnover.png").stat().st_size > 0
    assert (tmp_path / "table.csv").exists()
