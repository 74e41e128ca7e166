"""Fuzzing the frame entry points with malformed inputs (issue 13, point 5).

Hypothesis builds small frames and breaks them: NaN and inf values, unsorted,
duplicated and time-zone-mixed dates, object columns, empty frames, a single asset,
misaligned columns, values that are not returns, weights for unknown assets or dates,
weights over the gross limit, bad costs, and arguments that are not frames. Each case
must end in either a ``ValueError``/``TypeError`` whose message starts with the name of
the argument at fault, or a valid result: finite, aligned by name with the inputs, and
(for the backtest) holdings equal to the traded weights on trade dates with a gross
exposure within the limit.

Generated cases: 200 for ``validate_frame``, 200 for ``prices_to_returns``, 200 for
``make_windows`` and 300 for ``backtest``: 900 in all (derandomized, so the same
cases every run), about 6 s of CPU time.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepalloc.backtest import backtest
from deepalloc.data import make_windows, prices_to_returns, validate_frame

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

DEFECTS = (
    "none",
    "nan",
    "inf",
    "unsorted",
    "duplicate_date",
    "mixed_tz",
    "utc",
    "object_column",
    "no_rows",
    "no_columns",
    "duplicate_column",
    "range_index",
    "not_a_frame",
    "non_positive",
    "huge",
)


def clean(draw, *, prices: bool, min_dates: int = 1) -> pd.DataFrame:
    n_dates = draw(st.integers(min_dates, 12))
    n_assets = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    values = rng.normal(0, 0.02, (n_dates, n_assets))
    if prices:
        values = 50 * np.exp(np.cumsum(values, axis=0))
    index = pd.bdate_range("2022-01-03", periods=n_dates, name="date")
    return pd.DataFrame(values, index=index, columns=[f"x{i}" for i in range(n_assets)])


def break_frame(draw, frame: pd.DataFrame, defect: str) -> object:
    """``frame`` with one defect."""
    out = frame.copy()
    row = draw(st.integers(0, len(out) - 1))
    col = draw(st.integers(0, out.shape[1] - 1))
    if defect in ("nan", "inf", "non_positive", "huge"):
        value = {"nan": np.nan, "inf": -np.inf, "non_positive": -2.0, "huge": 1e9}[defect]
        out.iloc[row, col] = value
    elif defect == "unsorted" and len(out) > 1:
        out = out.iloc[::-1]
    elif defect == "duplicate_date":
        out = pd.concat([out, out.iloc[[row]]]).sort_index()
    elif defect == "mixed_tz" and len(out) > 1:
        stamps = list(out.index)
        stamps[row] = stamps[row].tz_localize("UTC")
        out.index = pd.Index(stamps, dtype=object)
    elif defect == "utc":
        out = out.tz_localize("UTC")
    elif defect == "object_column":
        out[out.columns[col]] = "1.0"
    elif defect == "no_rows":
        out = out.iloc[:0]
    elif defect == "no_columns":
        out = out.iloc[:, :0]
    elif defect == "duplicate_column":
        out = pd.concat([out, out.iloc[:, [col]]], axis=1)
    elif defect == "range_index":
        out = out.reset_index(drop=True)
    elif defect == "not_a_frame":
        return out.to_numpy() if draw(st.booleans()) else out.iloc[:, 0]
    return out


def assert_names(error: Exception, *names: str) -> None:
    """The message starts with one of the argument ``names`` (``name:`` or ``name ...:``)."""
    message = str(error)
    pattern = "|".join(re.escape(n) for n in names)
    assert re.match(rf"({pattern})\b[^:]*:", message), message


@settings(FAST, max_examples=200)
@given(st.data(), st.sampled_from(DEFECTS))
def test_validate_frame(data, defect):
    frame = break_frame(data.draw, clean(data.draw, prices=True), defect)
    try:
        validate_frame(frame, "prices", positive=True)
    except (ValueError, TypeError) as err:
        assert_names(err, "prices")
        return
    values = frame.to_numpy(dtype=np.float64)
    assert np.isfinite(values).all() and (values > 0).all()
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert defect in ("none", "huge", "utc", "unsorted", "mixed_tz")  # these may be valid


@settings(FAST, max_examples=200)
@given(st.data(), st.sampled_from(DEFECTS), st.sampled_from(["simple", "log"]))
def test_prices_to_returns(data, defect, kind):
    frame = break_frame(data.draw, clean(data.draw, prices=True), defect)
    try:
        out = prices_to_returns(frame, kind)
    except (ValueError, TypeError) as err:
        assert_names(err, "prices")
        return
    assert out.index.equals(frame.index[1:]) and list(out.columns) == list(frame.columns)
    assert np.isfinite(out.to_numpy()).all()
    if kind == "simple":
        assert (out.to_numpy() > -1).all()


@settings(FAST, max_examples=200)
@given(
    st.data(),
    st.sampled_from((*DEFECTS, "prices_as_targets", "misaligned_targets", "crash")),
    st.integers(0, 4),
    st.integers(0, 3),
)
def test_make_windows(data, defect, lookback, horizon):
    returns = clean(data.draw, prices=False)
    features: object = returns
    targets: object = None
    if defect == "prices_as_targets":
        targets = 100 * (1 + returns).cumprod()
    elif defect == "misaligned_targets":
        targets = returns.iloc[:, ::-1] if returns.shape[1] > 1 else returns.iloc[1:]
    elif defect == "crash":
        features = returns.copy()
        features.iloc[0, 0] = -1.5
    else:
        features = break_frame(data.draw, returns, defect)
    try:
        w = make_windows(
            features, lookback=lookback, horizon=horizon, targets=targets, dtype=torch.float64
        )
    except (ValueError, TypeError) as err:
        assert_names(err, "features", "targets", "target", "lookback", "horizon", "channel")
        return
    assert w.n_samples >= 1 and np.isfinite(w.x.numpy()).all()
    assert list(w.assets) == list(returns.columns)
    if horizon:
        assert w.y is not None and np.isfinite(w.y.numpy()).all()
        assert (w.y.numpy() > -1).all()


BACKTEST_DEFECTS = (
    *(f"returns:{d}" for d in DEFECTS),
    *(f"weights:{d}" for d in DEFECTS),
    "prices_as_returns",
    "crash",
    "unknown_asset",
    "unknown_date",
    "late_date",
    "early_dates",
    "percent",
    "levered",
    "short",
    "costs_nan",
    "costs_partial",
    "subset_of_assets",
)


@settings(FAST, max_examples=300)
@given(
    st.data(),
    st.sampled_from(BACKTEST_DEFECTS),
    st.sampled_from([None, "W", "M"]),
    st.integers(0, 2),
)
def test_backtest(data, defect, rebalance, lag):
    returns = clean(data.draw, prices=False, min_dates=2)
    rng = np.random.default_rng(len(returns))
    weights = pd.DataFrame(
        rng.dirichlet(np.ones(returns.shape[1]), len(returns)),
        index=returns.index,
        columns=returns.columns,
    ).iloc[:: data.draw(st.integers(1, 3))]
    costs: object = 10.0
    kind, _, what = defect.partition(":")
    if kind == "returns":
        returns = break_frame(data.draw, returns, what)
    elif kind == "weights":
        weights = break_frame(data.draw, weights, what)
    elif defect == "prices_as_returns":
        returns = 100 * (1 + returns).cumprod()
    elif defect == "crash":
        returns.iloc[-1, 0] = -1.0
    elif defect == "unknown_asset":
        weights = weights.rename(columns={weights.columns[0]: "nope"})
    elif defect == "unknown_date":
        weights = weights.set_axis(weights.index + pd.Timedelta(hours=1))
    elif defect == "late_date":
        weights = weights.set_axis(weights.index + pd.Timedelta(days=30))
    elif defect == "early_dates":
        weights = weights.set_axis(weights.index - pd.Timedelta(days=60))
    elif defect == "percent":
        weights = weights * 100
    elif defect == "levered":
        weights = weights * 1.5
    elif defect == "short":
        weights = weights * np.where(np.arange(weights.shape[1]) % 2, -1.0, 1.0)
    elif defect == "costs_nan":
        costs = float("nan")
    elif defect == "costs_partial":
        costs = pd.Series(5.0, index=returns.columns[:-1])
    elif defect == "subset_of_assets":
        weights = weights.iloc[:, :1] / weights.iloc[:, :1].to_numpy().max()
    try:
        res = backtest(weights, returns, costs_bps=costs, rebalance=rebalance, lag=lag)
    except (ValueError, TypeError) as err:
        assert_names(err, "weights", "returns", "costs_bps", "lag", "rebalance")
        return
    check_result(res, weights, returns)


def check_result(res, weights: pd.DataFrame, returns: pd.DataFrame) -> None:
    """Finite, aligned by name, holdings equal to a decision on trade dates."""
    for series in (res.returns, res.turnover, res.costs, res.wealth):
        assert np.isfinite(series.to_numpy()).all()
    assert np.isfinite(res.holdings.to_numpy()).all()
    assert list(res.holdings.columns) == list(returns.columns)
    assert res.returns.index[1:].isin(returns.index).all()
    targets = weights.reindex(columns=returns.columns, fill_value=0.0).to_numpy()
    for date in res.turnover.index[res.turnover > 0]:  # a trade holds one decision exactly
        assert (res.holdings.loc[date].to_numpy() == targets).all(axis=1).any()
    assert (np.abs(targets).sum(axis=1) <= 1 + 1e-6).all()  # within the default leverage
    assert (res.costs >= 0).all()


def first_choice(strategy):
    """A deterministic ``draw`` for break_frame: 0 (the first row or column, or False)."""
    return 0


@pytest.mark.parametrize("defect", DEFECTS[1:])
def test_every_defect_changes_the_frame(defect):
    # guards the docstring: a defect that break_frame ignored would never be tested
    frame = pd.DataFrame(
        [[1.0, 2.0], [1.5, 2.5], [1.2, 2.2]],
        index=pd.bdate_range("2022-01-03", periods=3),
        columns=["x0", "x1"],
    )
    broken = break_frame(first_choice, frame, defect)
    assert not (isinstance(broken, pd.DataFrame) and broken.equals(frame))
