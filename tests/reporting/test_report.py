"""The report folder: files, what index.md and index.html say, and atomic writes."""

import base64
import dataclasses
import html
import io
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import deepalloc.reporting.report as report_module
from deepalloc.report import report
from deepalloc.reporting import content

PNGS = ["sharpe_intervals.png", "equity_curves.png", "drawdowns.png", "metrics_table.png"]


def _section(text: str, heading: str) -> str:
    """The lines of a ``## heading`` section of index.md (up to the next ``## ``)."""
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 3)
    return text[start : end if end >= 0 else None]


def test_report_folder_files(suite, report_dir):
    folder = report_dir
    for name in (
        "metrics.csv",
        "comparison.csv",
        "significance.csv",
        "settings.csv",
        "folds.csv",
        "training_history.csv",
        "training_curves.png",
        "index.md",
        "index.html",
        *PNGS,
    ):
        assert (folder / name).is_file(), name
    assert (folder / "weights" / "inverse_vol_co.csv").is_file()
    for i in range(len(suite.fold_tables)):
        assert (folder / "folds" / f"fold_{i}_metrics.csv").is_file()
    metrics = pd.read_csv(folder / "metrics.csv", index_col="strategy")
    pd.testing.assert_frame_equal(
        metrics, suite.table, check_names=False, check_exact=False, rtol=1e-12
    )
    holdings = pd.read_csv(
        folder / "holdings" / "dense_seed0.csv", index_col="date", parse_dates=True
    )
    np.testing.assert_allclose(holdings, suite.backtests["dense:seed0"].holdings, rtol=1e-12)
    settings = pd.read_csv(folder / "settings.csv", index_col="setting")["value"]
    assert settings.astype(str).to_dict() == {k: str(v) for k, v in suite.settings.items()}
    # a held-weights figure per strategy
    weights_pngs = sorted(p.name for p in folder.glob("weights_*.png"))
    assert len(weights_pngs) == len(suite.backtests)
    assert oct(os.stat(folder / "index.md").st_mode & 0o777) == oct(report_module.FILE_MODE)


def test_index_says_it_in_words_at_the_top(suite, report_dir):
    text = (report_dir / "index.md").read_text()
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[:3] == ["Verdict", "Settings", "Metrics (all test blocks, after costs)"]
    verdict = _section(text, "Verdict")
    expected = suite.significance()["verdict"].tolist()
    assert [line[2:] for line in verdict.splitlines() if " vs equal_weight: " in line] == expected
    assert "How to read this" in verdict and "deflated Sharpe ratio" in verdict
    for line in expected:
        assert re.search(r"Sharpe [+-]\d\.\d\d \(95% CI .* p = \d\.\d\d, Holm p = \d\.\d\d\)", line)


def test_index_states_the_settings(suite, report_dir):
    settings = _section((report_dir / "index.md").read_text(), "Settings")
    for key, value in suite.settings.items():
        assert f"| {key.replace('_', ' ')} | {value} |" in settings
    for expected in ("| costs bps | 10 |", "| rebalance | M |", "| seeds | 2 |", "| lag | 0 |"):
        assert expected in settings


def test_index_has_per_fold_tables(suite, report_dir):
    section = _section((report_dir / "index.md").read_text(), "Per fold")
    labels = [str(pd.Timestamp(d).date()) for d in suite.folds["test_start"]]
    for metric in ("sharpe_ratio", "max_drawdown", "annualized_return"):
        start = section.index(f"### {metric.replace('_', ' ')} by fold")
        rows = section[start:].split("\n\n")[1].splitlines()
        assert rows[0] == "| strategy | " + " | ".join(labels) + " |"
        for row in rows[2:]:
            cells = [c.strip() for c in row.strip("|").split("|")]
            name = cells[0]
            values = [table.loc[name, metric] for table in suite.fold_tables]
            assert cells[1:] == [f"{v:.3f}" for v in values]


def test_networks_near_equal_weight_are_flagged_by_fold(suite, report_dir):
    text = (report_dir / "index.md").read_text()
    expected = {}
    for name in ("dense:seed0", "dense:seed1", "dense:ensemble"):
        w = suite.weights[name].to_numpy()
        dates = suite.weights[name].index
        for _, fold in suite.folds.iterrows():
            inside = (dates >= fold["test_start"]) & (dates <= fold["test_end"])
            share = np.mean(0.5 * np.abs(w[inside] - 1 / w.shape[1]).sum(axis=1))
            if share < 0.05:
                expected.setdefault(name, []).append(str(fold["test_start"].date()))
    flagged = {}
    for line in text.splitlines():
        match = re.match(r"- (\S+) did not learn on folds? ([^:]+): its weights stay", line)
        if match:
            flagged[match[1]] = match[2].split(", ")
    assert expected  # two epochs leave this network within about 1-4% of equal weight
    assert flagged == expected
    # a baseline is never flagged, however close to equal weight
    assert "- equal_weight did not learn" not in text
    assert "### Distance to equal weight by fold (networks)" in text


def test_index_html_matches_the_markdown(suite, report_dir, check_html):
    page = (report_dir / "index.html").read_text()
    seen = check_html(page)
    markdown = (report_dir / "index.md").read_text()
    figures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert len(seen.images) == len(figures) and "training_curves.png" in figures
    for image, name in zip(seen.images, figures, strict=True):
        encoded = base64.b64encode((report_dir / name).read_bytes()).decode()
        assert image["src"] == f"data:image/png;base64,{encoded}"
    for line in suite.significance()["verdict"]:
        assert html.escape(line) in page
    assert "inverse &lt;vol&gt; &amp; co" in page and "inverse <vol>" not in page
    assert page.index("Verdict") < page.index("Settings") < page.index("Per fold")
    assert page.index("Per fold") < page.index("Training")


def test_the_training_figure_labels_folds_by_their_test_start(suite):
    findings = content.find(suite)
    labels = [str(pd.Timestamp(d).date()) for d in suite.folds["test_start"]]
    assert findings.fold_labels == labels
    slugs = report_module._slugs(list(suite.backtests))
    makers = report_module._figure_makers(suite, findings, slugs)
    (panel,) = [ax for ax in makers["training_curves.png"]().axes if ax.get_visible()]
    legend = [t.get_text() for t in panel.get_legend().get_texts()]
    assert legend == [*labels, "training", "validation"]


def test_cpcv_report(cpcv_suite, tmp_path):
    index = report(cpcv_suite, tmp_path / "cpcv")
    text = index.read_text()
    assert "## Metrics (mean over 4 CPCV paths, after costs)" in text
    assert "## Spread across CPCV paths" in text
    assert "No per-fold results" in text
    assert not (tmp_path / "cpcv" / "training_curves.png").exists()
    paths = pd.read_csv(tmp_path / "cpcv" / "path_metrics.csv", index_col=[0, 1])
    np.testing.assert_allclose(paths, cpcv_suite.path_tables, rtol=1e-12)


def test_a_report_without_significance_says_why(cpcv_suite, tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise ValueError("backtests: expected at least 3 common dates, got 2")

    monkeypatch.setattr(type(cpcv_suite), "significance", fail)
    index = report(cpcv_suite, tmp_path / "r")
    verdict = _section(index.read_text(), "Verdict")
    assert "No significance tests: they could not be computed (ValueError: backtests" in verdict
    assert not (tmp_path / "r" / "significance.csv").exists()
    assert (tmp_path / "r" / "sharpe_intervals.png").exists()


# --- atomic writes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def previous(cpcv_suite, tmp_path_factory):
    """A finished report of the CPCV suite, copied by each test before it interrupts a
    second run into the same folder."""
    folder = tmp_path_factory.mktemp("previous") / "report"
    report(cpcv_suite, folder, title="first")
    return folder


def _snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _temporary(folder):
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp")]


def test_every_file_goes_through_atomic_writer(cpcv_suite, tmp_path, monkeypatch):
    written = []
    real = report_module.atomic_writer

    def recording(path, mode="wb"):
        written.append(os.fspath(path))
        return real(path, mode)

    monkeypatch.setattr(report_module, "atomic_writer", recording)
    report(cpcv_suite, tmp_path / "r")
    files = {os.fspath(p) for p in (tmp_path / "r").rglob("*") if p.is_file()}
    assert files == set(written) and len(written) == len(set(written))


def test_interrupted_csv_keeps_the_previous_file(cpcv_suite, previous, tmp_path, monkeypatch):
    folder = tmp_path / "report"
    shutil.copytree(previous, folder)
    before = _snapshot(folder)
    changed = dataclasses.replace(cpcv_suite, table=cpcv_suite.table * 2)
    real = pd.DataFrame.to_csv

    def half_then_fail(self, file=None, **kwargs):
        text = real(self, None, **kwargs)
        file.write(text[: len(text) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        report(changed, folder)
    assert _snapshot(folder) == before
    assert not _temporary(folder)


def test_interrupted_figure_keeps_the_previous_file(cpcv_suite, previous, tmp_path, monkeypatch):
    folder = tmp_path / "report"
    shutil.copytree(previous, folder)
    before = _snapshot(folder)
    real = Figure.savefig
    calls = []

    def half_then_interrupt(self, file, **kwargs):
        buffer = io.BytesIO()
        real(self, buffer, **kwargs)
        calls.append(1)
        if len(calls) == 2:  # the second figure, equity_curves.png
            file.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
            raise KeyboardInterrupt
        file.write(buffer.getvalue())

    monkeypatch.setattr(Figure, "savefig", half_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        report(cpcv_suite, folder, title="second")
    after = _snapshot(folder)
    assert after[Path("equity_curves.png")] == before[Path("equity_curves.png")]
    assert after == before  # the same suite: every file rewritten is identical
    assert not _temporary(folder)


def test_interrupted_index_keeps_the_previous_page(cpcv_suite, previous, tmp_path, monkeypatch):
    folder = tmp_path / "report"
    shutil.copytree(previous, folder)
    real = os.replace

    def fail_on_html(src, dst):
        if os.fspath(dst).endswith("index.html"):
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(os, "replace", fail_on_html)
    with pytest.raises(KeyboardInterrupt):
        report(cpcv_suite, folder, title="second")
    assert (folder / "index.md").read_text().startswith("# second\n")
    page = (folder / "index.html").read_text()
    assert "<title>first</title>" in page and page.rstrip().endswith("</html>")
    assert not _temporary(folder)
