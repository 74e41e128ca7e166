import copy
import subprocess
import sys

import pandas as pd
import pytest

from deepalloc.cli import main
from deepalloc.config import DEMO_CONFIG, ConfigError, build_suite
from deepalloc.datasets import load_factor_etfs


@pytest.fixture
def config(tmp_path):
    load_factor_etfs().to_csv(tmp_path / "prices.csv")
    cfg = copy.deepcopy(DEMO_CONFIG)
    del cfg["data"]["dataset"]
    cfg["data"].update(path="prices.csv", start="2019-01-01")
    cfg["split"].update(initial_train="2021-01-01", train_size=250)
    cfg["training"]["epochs"] = 1
    return cfg


def write_toml(path, cfg):
    def value(v):
        return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)

    lines = []
    for section, body in cfg.items():
        if isinstance(body, list):
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{k} = {value(v)}" for k, v in item.items()]
        else:
            lines.append(f"[{section}]")
            lines += [f"{k} = {value(v)}" for k, v in body.items()]
    path.write_text("\n".join(lines))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["windows"].update(lookback="sixty"),
            r"\[windows\]\.lookback: expected int, got 'sixty'",
        ),
        (lambda c: c["windows"].update(lookbak=5), r"\[windows\]\.lookbak: unknown key"),
        (lambda c: c["split"].update(scheme="kfold"), r"\[split\]\.scheme: expected one of"),
        (
            lambda c: c["networks"][0].update(type="resnet"),
            r"\[\[networks\]\]\[0\]\.type: expected one of",
        ),
        (lambda c: c["networks"][1].update(allocator="magic"), r"\[\[networks\]\]\[1\]\.allocator"),
        (lambda c: c["backtest"].update(costs_bps="ten"), r"\[backtest\]\.costs_bps"),
        (lambda c: c["training"].update(lr=-1.0), r"\[training\]\.lr: expected a positive value"),
        (lambda c: c.pop("windows"), r"config \[windows\]: expected this section"),
        (
            lambda c: c["networks"].append(
                {"name": "x", "type": "lstm_markowitz", "allocator": "softmax"}
            ),
            r"\[\[networks\]\]\[2\]\.allocator: expected 'markowitz'",
        ),
    ],
)
def test_config_errors_name_the_key(config, tmp_path, edit, message):
    edit(config)
    with pytest.raises(ConfigError, match=message):
        build_suite(config, base=tmp_path)


def test_run_command_writes_report(config, tmp_path, capsys):
    write_toml(tmp_path / "suite.toml", config)
    assert (
        main(
            [
                "run",
                str(tmp_path / "suite.toml"),
                "--output",
                str(tmp_path / "rep"),
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "equal_weight" in out and "report:" in out
    assert (tmp_path / "rep" / "index.md").exists()
    config["windows"]["horizon"] = "x"
    write_toml(tmp_path / "bad.toml", config)
    assert main(["run", str(tmp_path / "bad.toml")]) == 2
    assert "[windows].horizon" in capsys.readouterr().err


def test_backtest_command(tmp_path, capsys):
    prices = load_factor_etfs().iloc[:300]
    prices.to_csv(tmp_path / "prices.csv")
    weights = pd.DataFrame(0.2, index=prices.index[20:250:20], columns=prices.columns)
    weights.to_csv(tmp_path / "weights.csv")
    assert (
        main(
            [
                "backtest",
                str(tmp_path / "weights.csv"),
                str(tmp_path / "prices.csv"),
                "--costs-bps",
                "10",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "sharpe_ratio" in out and "total_costs" in out


def test_demo_quick_from_the_command_line(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "deepalloc",
            "demo",
            "--quick",
            "--no-progress",
            "--output",
            str(tmp_path / "demo"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "lstm_softmax" in proc.stdout and "conv_markowitz" in proc.stdout
    assert (tmp_path / "demo" / "index.md").exists()
    assert (tmp_path / "demo" / "weights" / "conv_markowitz.csv").exists()
