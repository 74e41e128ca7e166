"""The verdict lines of deepalloc run come from the computed p-values: on data where a
strategy truly dominates equal weight they say so, on noise they do not."""

import numpy as np
import pandas as pd
import pytest

from deepalloc.cli import main

CONFIG = """
[data]
path = "returns.csv"
kind = "returns"

[windows]
lookback = 60
horizon = 5

[split]
scheme = "walk_forward"
test_size = 250
initial_train = 300

[backtest]
costs_bps = 5

[[baselines]]
name = "momentum"
type = "maximum_return"
"""


def write(folder, drift):
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 0.01, (1300, 5))
    values[:, 0] = drift + rng.normal(0.0, 0.004, 1300)  # one asset drifts up steadily
    index = pd.bdate_range("2015-01-01", periods=1300, name="date")
    pd.DataFrame(values, index=index, columns=[f"a{i}" for i in range(5)]).to_csv(
        folder / "returns.csv"
    )
    (folder / "config.toml").write_text(CONFIG)


@pytest.mark.parametrize(
    ("drift", "words"),
    [(0.004, "significant outperformance"), (0.0, "no evidence")],
)
def test_the_verdict_says_what_the_test_found(tmp_path, capsys, drift, words):
    write(tmp_path, drift)
    assert main(["run", str(tmp_path / "config.toml"), "--no-progress"]) == 0
    out = capsys.readouterr().out.splitlines()
    verdict = next(line for line in out if line.startswith("momentum vs equal_weight:"))
    assert words in verdict
    table = pd.read_csv(tmp_path / "deepalloc-report" / "significance.csv", index_col=0)
    p = table.loc["momentum", "holm_p_value"]
    assert (p < 0.05) == (words == "significant outperformance")
