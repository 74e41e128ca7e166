import numpy as np
import pytest
import torch

from deepalloc.data import RobustScaler, StandardScaler, make_windows
from tests.conftest import random_frame


def test_standard_scaler_uses_training_rows_only():
    frame = random_frame(300, 3, seed=0)
    frame.iloc[150:] *= 100  # the future looks very different
    # log returns: scaled by 100 some fall below -1, which simple returns cannot
    w = make_windows(frame, lookback=20, horizon=5, returns_kind="log", dtype=torch.float64)
    train = np.arange(0, 100)  # reads rows 0 .. 118
    scaled = StandardScaler().fit_transform(w, train)
    rows = frame.to_numpy()[:119]
    mean, std = rows.mean(), rows.std()
    np.testing.assert_allclose(
        scaled.data[0].numpy(), (frame.to_numpy().T - mean) / std, rtol=1e-12
    )
    torch.testing.assert_close(scaled.y, w.y)


def test_per_asset_and_robust():
    frame = random_frame(200, 3, seed=1)
    w = make_windows(frame, lookback=10, horizon=2, dtype=torch.float64)
    idx = np.arange(50)
    s = StandardScaler(per_asset=True).fit(w, idx)
    rows = frame.to_numpy()[:59]
    np.testing.assert_allclose(s.center_[0, :, 0].numpy(), rows.mean(0), rtol=1e-12)
    r = RobustScaler().fit(w, idx)
    q25, q50, q75 = np.quantile(rows.ravel(), [0.25, 0.5, 0.75])
    np.testing.assert_allclose(r.center_.item(), q50, rtol=1e-12)
    np.testing.assert_allclose(r.scale_.item(), q75 - q25, rtol=1e-12)


def test_unfitted_and_mismatched():
    w = make_windows(random_frame(50, 3, seed=1), lookback=5, horizon=1)
    with pytest.raises(ValueError, match="expected fit\\(\\) to be called"):
        StandardScaler().transform(w)
    s = StandardScaler(per_asset=True).fit(w, [0, 1])
    other = make_windows(random_frame(50, 4, seed=1), lookback=5, horizon=1)
    with pytest.raises(ValueError, match="and 3 assets as fitted"):
        s.transform(other)
    with pytest.raises(ValueError, match="at least one training sample"):
        StandardScaler().fit(w, [])
