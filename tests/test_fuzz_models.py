"""Fuzzing the model entry points with malformed inputs (issue 13, point 5).

Hypothesis breaks the inputs of every allocator of the shared contract (NaN and inf in
any input, a missing batch axis, batch or asset sizes that disagree between inputs,
integer tensors, an empty batch), of ``predict`` (malformed frames, as in
``tests/test_fuzz.py``) and of the ``deepalloc backtest`` command (weights CSVs with
NaN, unknown assets, dates outside the prices, percent weights, an empty file). Each
case ends in either a ``ValueError``/``TypeError`` whose message starts with the name of
the argument at fault, or a valid result: finite, rows summing to the allocator's
budget, aligned by name; the command always exits 0 or 2 with one line on stderr.

Generated cases: 400 for the allocators, 120 for ``predict`` and 60 for the command,
580 in all (derandomized: the same cases every run).
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
import pandas as pd
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from deepalloc.cli import main
from deepalloc.networks import DenseNet
from deepalloc.training import predict
from tests.allocators.test_contract import SPECS, argument_names
from tests.test_fuzz import DEFECTS, FAST, assert_names, break_frame, clean

TENSOR_DEFECTS = (
    "none",
    "nan",
    "inf",
    "no_batch_axis",
    "batch_mismatch",
    "asset_mismatch",
    "integer",
)


def broken_inputs(draw, spec, defect):
    inputs = list(spec.inputs(draw(st.integers(1, 4)), draw(st.integers(0, 99)), torch.float64))
    k = draw(st.integers(0, len(inputs) - 1))
    t = inputs[k].clone()
    if defect in ("nan", "inf") and t.numel():
        t.view(-1)[draw(st.integers(0, t.numel() - 1))] = math.nan if defect == "nan" else math.inf
    elif defect == "no_batch_axis":
        t = t[0]
    elif defect == "batch_mismatch" and t.ndim:
        t = torch.cat([t, t[:1]])
    elif defect == "asset_mismatch" and t.ndim >= 2 and spec.kinds[k] in ("asset", "cov"):
        t = t[..., :-1]
    elif defect == "integer":
        t = t.round().long()
    inputs[k] = t
    return inputs, k


@settings(FAST, max_examples=400)
@given(st.data(), st.sampled_from(SPECS), st.sampled_from(TENSOR_DEFECTS))
def test_allocators(data, spec, defect):
    allocator = spec.make()
    inputs, k = broken_inputs(data.draw, spec, defect)
    names = argument_names(allocator, spec)
    try:
        w = allocator(*inputs)
    except (ValueError, TypeError) as err:
        # the message names the argument at fault (the first, or every one that disagrees)
        assert any(name in str(err) for name in names), str(err)
        return
    assert torch.isfinite(w).all()
    if spec.budget is not None:
        torch.testing.assert_close(
            w.sum(-1), torch.full_like(w[:, 0], spec.budget), atol=1e-6, rtol=0
        )


@settings(FAST, max_examples=120)
@given(st.data(), st.sampled_from(DEFECTS))
def test_predict(data, defect):
    frame = break_frame(data.draw, clean(data.draw, prices=False, min_dates=6), defect)
    torch.manual_seed(0)
    network = DenseNet(1, 5)
    try:
        weights = predict(network, frame, lookback=5)
    except (ValueError, TypeError) as err:
        assert_names(err, "features", "channel", "lookback", "frame", "data")
        return
    assert np.isfinite(weights.to_numpy()).all()
    assert list(weights.columns) == list(frame.columns)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-5)


WEIGHTS_DEFECTS = ("none", "nan", "unknown_asset", "late_date", "percent", "empty", "text")


@settings(FAST, max_examples=60)
@given(data=st.data(), defect=st.sampled_from(WEIGHTS_DEFECTS))
def test_backtest_command(tmp_path_factory, data, defect):
    folder = tmp_path_factory.mktemp("cli")
    prices = clean(data.draw, prices=True, min_dates=6)
    prices.to_csv(folder / "prices.csv")
    weights = pd.DataFrame(1.0 / prices.shape[1], index=prices.index[1:3], columns=prices.columns)
    if defect == "nan":
        weights.iloc[0, 0] = np.nan
    elif defect == "unknown_asset":
        weights["zz"] = 0.0
    elif defect == "late_date":
        weights.index = weights.index + pd.Timedelta(days=60)
    elif defect == "percent":
        weights = weights * 100
    path = folder / "weights.csv"
    if defect == "empty":
        path.write_text("")
    elif defect == "text":
        path.write_text("date,x0\n2022-01-04,abc\n")
    else:
        weights.to_csv(path)
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        code = main(["backtest", str(path), str(folder / "prices.csv")])
    err = stderr.getvalue()
    assert code in (0, 2)
    if code == 2:
        assert err.startswith("deepalloc: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err
    else:
        assert defect == "none" and err == ""
