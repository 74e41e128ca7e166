"""RiskParity on real data and its options (the other baselines: test_baselines.py)."""

import pytest

from deepalloc import baselines as B
from deepalloc.functional.measures import risk_contributions
from deepalloc.functional.risk import covariance
from tests.allocators.conftest import sp500_month_end_windows


def test_risk_parity_solves_every_month_end_sp500_window():
    # 384 one-year windows ending at each month end, 1991-2022, in one batched call; the
    # former Newton method stalled on 11 of them (2014-08-29, 2020-02-28, ...)
    windows, _ = sp500_month_end_windows()
    w = B.RiskParity()(windows[:, None])
    n = windows.shape[1]
    # RiskParity adds a jitter of 1e-8 x the mean variance: the contributions it equalises
    # are those of the sample covariance to about 1e-8
    rc = risk_contributions(w, covariance(windows, ddof=1))
    assert (rc - 1 / n).abs().max() <= 1e-6


@pytest.mark.parametrize("rule", [B.RiskParity, B.MinimumVariance, B.MaximumSharpe])
def test_shrinkage_options_are_validated_at_construction(rule):
    with pytest.raises(ValueError, match="shrinkage: expected one of"):
        rule("bogus")
    with pytest.raises(ValueError, match=r"intensity: expected a number in \[0, 1\]"):
        rule("diagonal", 1.5)
    assert rule("constant_correlation", 0.5).shrinkage == "constant_correlation"
