"""Does a network that knows what trading costs trade less? Cost-unaware vs cost-aware.

One network, a temporal convolution network (four blocks of 16 channels) with a softmax
allocator, trained on the Sharpe ratio in a walk-forward on the bundled S&P 500 stocks
(from 2010; retrained every 504 trading days, about two years, on all data before;
tested 2017-2022), in two ways:

- **cost-unaware**: ordinary training on independent windows (batches of 64, shuffled);
  costs are paid only in the backtest;
- **cost-aware**, once per cost level: the network sees the portfolio it holds
  (``holdings_aware=True``) and is trained sequentially
  (:class:`~deepalloc.evaluation.SequentialTraining`): runs of 12 monthly decisions
  (stride 20 trading days, the windows' horizon) in time order, each decision's weights
  drifted by the realised returns and handed to the next as its holdings, the trades
  paying the cost in the loss (the Sharpe ratio of the run's after-cost daily returns),
  backpropagation truncated every 6 decisions, 4 runs per optimizer step;
- **sequential without costs** (the control): holdings-aware and trained sequentially
  as above, at 0 bps. A sequential epoch makes far fewer optimizer steps than an ordinary
  one, and a less trained softmax network stays nearer equal weight and trades less; the
  control shows how much of the cost-aware versions' lower turnover that alone explains.

Every version is backtested with the same monthly rebalancing at the same cost as the
cost-aware network was trained for (10, 25 and 50 bps, one-way, on every trade); the
holdings-aware networks decide along the backtest's own holdings, across folds. The
table gives, per cost: the average two-sided turnover per rebalance, the annualised
after-cost Sharpe ratio with its 95% confidence interval (Lo's 2002
autocorrelation-robust standard error) and the Ledoit-Wolf (2008) test of the
cost-aware minus cost-unaware Sharpe ratio (HAC standard error: difference, 95%
interval, p-value). The control and equal weight are there for reference. A plot shows
the turnover against the cost; ``table.attrs["epochs"]`` the epochs each network trained
in each fold (early stopping).

Choices, fixed before looking at the test years (2017-2022) and not tuned on them:
lookback 60 and horizon 20 trading days; Adam with learning rate 3e-3 (the
significance example's); at most 15 epochs for ordinary training (the significance
example's) and 60 for sequential training (a sequential epoch makes 10 to 15 times fewer
optimizer steps: a few runs of 12 decisions, 4 per step, against all the training
windows in batches of 64), early stopping on the fold's validation block (the last 20%
of its training period, purged) with patience 4 and 10 epochs, validation scoring the
same after-cost path as the loss; run length 12
(a year of monthly decisions: one Sharpe ratio per run over about 240 daily returns) and
truncation every 6 decisions (half a year), by reasoning, not search. The seed is fixed
(0) and the same for every version. The start (2010) and the two-year retraining are
there to keep the run within about half an hour on two shared cores.

Run: python -m examples.trading_costs [OUTPUT_FOLDER]
"""

from __future__ import annotations

import functools
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from deepalloc import metrics, stats
from deepalloc.backtest import BacktestResult, backtest
from deepalloc.data import make_windows, prices_to_returns, walk_forward_folds
from deepalloc.datasets import load_sp500
from deepalloc.evaluation import NetworkStrategy, SequentialTraining, run_suite
from deepalloc.evaluation.strategies import ensemble_name
from deepalloc.losses import SharpeLoss
from deepalloc.networks import TCNNet
from deepalloc.training import EarlyStopping

UNAWARE, AWARE, EQUAL = "cost_unaware", "cost_aware", "equal_weight"
NO_COSTS = "sequential_no_costs"
"""The control: holdings-aware and sequential like the cost-aware versions, but trained
without costs, so that what the costs in the loss do is told apart from what the
sequential mode alone does."""
LOOKBACK, HORIZON = 60, 20
LEARNING_RATE = 3e-3
RUN_LENGTH, TRUNCATE_EVERY, RUNS_PER_STEP = 12, 6, 4


def tcn(n_channels: int, n_assets: int, lookback: int, *, holdings_aware: bool) -> nn.Module:
    """The network every fold trains afresh (holdings-aware for the cost-aware versions)."""
    return TCNNet(n_channels, channels=(16, 16, 16, 16), holdings_aware=holdings_aware)


def strategies(
    costs: Sequence[float], epochs: int, sequential_epochs: int
) -> list[NetworkStrategy]:
    """The cost-unaware network, one cost-aware network per cost and the control."""

    def options(n: int, patience: int, batch_size: int | None) -> dict[str, object]:
        out: dict[str, object] = {
            "epochs": n,
            "optimizer": functools.partial(torch.optim.Adam, lr=LEARNING_RATE),
            "early_stopping": EarlyStopping(patience=patience),
        }
        if batch_size is not None:
            out["batch_size"] = batch_size
        return out

    unaware = NetworkStrategy(
        UNAWARE,
        functools.partial(tcn, holdings_aware=False),
        SharpeLoss(),
        options(epochs, 4, 64),
    )
    aware = [
        NetworkStrategy(
            NO_COSTS if c is None else f"{AWARE}_{_label(c)}",
            functools.partial(tcn, holdings_aware=True),
            SharpeLoss(),
            options(sequential_epochs, 10, None),
            sequential=SequentialTraining(
                run_length=RUN_LENGTH,
                costs_bps=0.0 if c is None else float(c),
                truncate_every=TRUNCATE_EVERY,
                batch_size=RUNS_PER_STEP,
            ),
        )
        for c in [*costs, None]
    ]
    return [unaware, *aware]


def _label(cost: float) -> str:
    """``25bps`` for 25.0 (a strategy name without ``:`` or ``.``)."""
    return f"{cost:g}bps".replace(".", "p")


def _sharpe_row(result: BacktestResult, ppy: float) -> dict[str, float]:
    """Turnover and the annualised Sharpe ratio with its 95% interval (Lo 2002)."""
    r = result.returns
    scale = math.sqrt(ppy)
    sharpe = stats.per_period_sharpe(r)
    half = 1.959963984540054 * stats.sharpe_standard_error(r, method="lo")
    summary = result.summary(periods_per_year=ppy).iloc[:, 0]
    return {
        "average_turnover": float(summary["average_turnover"]),
        "annual_turnover": float(result.turnover.sum()) / len(r) * ppy,
        "sharpe": sharpe * scale,
        "sharpe_ci_low": (sharpe - half) * scale,
        "sharpe_ci_high": (sharpe + half) * scale,
        "annualized_return": float(summary["annualized_return"]),
    }


def cost_table(
    weights: dict[str, pd.DataFrame],
    returns: pd.DataFrame,
    costs: Sequence[float],
    names: dict[str | float, str],
) -> pd.DataFrame:
    """Backtest every version at every cost; one row per (cost, version).

    ``names`` maps ``UNAWARE``, ``NO_COSTS``, ``EQUAL`` and each cost to the row of
    ``weights``.
    """
    rows = []
    for c in costs:
        runs = {
            UNAWARE: names[UNAWARE],
            AWARE: names[c],
            NO_COSTS: names[NO_COSTS],
            EQUAL: names[EQUAL],
        }
        results = {
            k: backtest(weights[v], returns, costs_bps=c, rebalance="M") for k, v in runs.items()
        }
        ppy = float(metrics.infer_periods_per_year(results[EQUAL].returns))
        test = stats.sharpe_difference_test(
            results[AWARE].returns, results[UNAWARE].returns, method="ledoit_wolf"
        )
        for version, result in results.items():
            row: dict[str, object] = {"costs_bps": float(c), "training": version}
            row.update(_sharpe_row(result, ppy))
            aware = version == AWARE
            nan = float("nan")
            row["sharpe_difference"] = test.difference * math.sqrt(ppy) if aware else nan
            row["difference_ci_low"] = test.ci_low * math.sqrt(ppy) if aware else nan
            row["difference_ci_high"] = test.ci_high * math.sqrt(ppy) if aware else nan
            row["p_value"] = test.p_value if aware else nan
            rows.append(row)
    table = pd.DataFrame(rows)
    unaware = table[table["training"] == UNAWARE].set_index("costs_bps")["average_turnover"]
    table["turnover_vs_unaware"] = table["average_turnover"] / table["costs_bps"].map(unaware)
    return table


def turnover_figure(table: pd.DataFrame) -> Figure:
    """Average turnover per rebalance against the cost, one line per version."""
    figure = Figure(figsize=(6, 4))
    ax = figure.subplots()
    styles = {UNAWARE: "o-", AWARE: "s-", NO_COSTS: "x:", EQUAL: "^--"}
    for version, style in styles.items():
        part = table[table["training"] == version]
        ax.plot(part["costs_bps"], part["average_turnover"], style, label=version)
    ax.set_xlabel("trading cost (bps, one-way)")
    ax.set_ylabel("average two-sided turnover per rebalance")
    ax.set_ylim(bottom=0)
    ax.set_title("Turnover of the TCN, trained without and with costs")
    ax.legend()
    figure.tight_layout()
    return figure


def main(
    start: str = "2010-01-01",
    first_test: str = "2017-01-01",
    retrain_every: int = 504,
    epochs: int = 15,
    sequential_epochs: int = 60,
    seeds: int = 1,
    costs: Sequence[float] = (10.0, 25.0, 50.0),
    output: str | None = None,
    end: str | None = None,
) -> pd.DataFrame:
    """Train and backtest every version; returns the tidy table (one row per cost and
    version) and writes ``turnover.png`` (and ``table.csv``) into ``output`` (default: a
    new temporary folder; ``table.attrs["output"]`` names it).

    With ``seeds > 1`` each version is the ensemble of its seeds (weights averaged);
    ``end`` cuts the data (for checks on years before the test period).
    """
    returns = prices_to_returns(load_sp500().loc[start:end])
    windows = make_windows(returns, lookback=LOOKBACK, horizon=HORIZON)
    folds = walk_forward_folds(
        windows, test_size=retrain_every, initial_train=first_test, val_size=0.2
    )
    suite = run_suite(
        windows,
        strategies(costs, epochs, sequential_epochs),
        folds,
        returns=returns,
        rebalance="M",
        seeds=seeds,
    )

    def row(name: str) -> str:
        return ensemble_name(name) if seeds > 1 else name

    names: dict[str | float, str] = {UNAWARE: row(UNAWARE), NO_COSTS: row(NO_COSTS)}
    names[EQUAL] = EQUAL
    names.update({c: row(f"{AWARE}_{_label(c)}") for c in costs})
    table = cost_table(suite.weights, returns, costs, names)
    folder = Path(output) if output else Path(tempfile.mkdtemp(prefix="trading_costs_"))
    folder.mkdir(parents=True, exist_ok=True)
    turnover_figure(table).savefig(folder / "turnover.png", dpi=100)
    table.to_csv(folder / "table.csv", index=False)
    table.attrs["output"] = str(folder)
    history = suite.histories
    table.attrs["epochs"] = history.groupby(["strategy", "fold"])["epoch"].max().unstack()
    return table


if __name__ == "__main__":
    import sys

    result = main(output=sys.argv[1] if len(sys.argv) > 1 else None)
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(result.to_string(index=False))
        print("epochs trained per fold:\n", result.attrs["epochs"])
    print("written to", result.attrs["output"])
