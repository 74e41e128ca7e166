import numpy as np
import pytest

from deepalloc.data import sine_market, synthetic_market


def test_synthetic_market_is_seeded_and_realistic():
    a = synthetic_market(2520, 10, seed=3)
    b = synthetic_market(2520, 10, seed=3)
    assert a.equals(b)
    assert not a.equals(synthetic_market(2520, 10, seed=4))
    vol = a.std() * np.sqrt(252)
    assert ((vol > 0.1) & (vol < 0.6)).all()
    corr = np.corrcoef(a.to_numpy().T)[np.triu_indices(10, 1)]
    assert corr.mean() > 0.1  # factor structure
    z = (a - a.mean()) / a.std()
    assert ((z**4).mean() > 3.5).all()  # fat tails
    sq = (a**2).to_numpy()
    lag_corr = np.mean([np.corrcoef(sq[1:, i], sq[:-1, i])[0, 1] for i in range(10)])
    assert lag_corr > 0.05  # volatility clustering


def test_momentum_makes_trailing_returns_predictive():
    r = synthetic_market(5000, 20, seed=0, momentum=0.3).to_numpy()
    past = np.array([r[t - 60 : t].mean(0) for t in range(60, len(r) - 20)])
    future = np.array([r[t : t + 20].mean(0) for t in range(60, len(r) - 20)])
    ic = np.mean([np.corrcoef(past[:, i], future[:, i])[0, 1] for i in range(20)])
    assert ic > 0.1
    flat = synthetic_market(5000, 20, seed=0).to_numpy()
    past0 = np.array([flat[t - 60 : t].mean(0) for t in range(60, len(flat) - 20, 20)])
    future0 = np.array([flat[t : t + 20].mean(0) for t in range(60, len(flat) - 20, 20)])
    ic0 = np.mean([np.corrcoef(past0[:, i], future0[:, i])[0, 1] for i in range(20)])
    assert abs(ic0) < 0.1


def test_regimes_and_sine():
    calm = synthetic_market(3000, 5, seed=1)
    regime = synthetic_market(3000, 5, seed=1, regimes=True)
    assert regime.std().mean() > calm.std().mean()
    s = sine_market(500, 3, seed=0, noise=0.0)
    assert np.abs(s.to_numpy()).max() <= 0.01 + 1e-12
    with pytest.raises(ValueError, match="tail_df"):
        synthetic_market(10, 2, seed=0, tail_df=2)
