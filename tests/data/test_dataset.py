import numpy as np
import pytest
import torch

from deepalloc.data import (
    Compose,
    Dropout,
    GaussianNoise,
    MultiplicativeScaling,
    WindowDataset,
    WindowLoader,
    make_windows,
)
from tests.conftest import random_frame


@pytest.fixture
def windows():
    return make_windows(random_frame(200, 6, seed=0), lookback=10, horizon=3)


def test_ordered_loader_keeps_time_order(windows):
    idx = np.arange(50, 120)
    loader = WindowLoader(windows, idx, batch_size=32)
    xs = torch.cat([x for x, _ in loader])
    torch.testing.assert_close(xs, windows.x[50:120])
    assert len(loader) == 3
    assert loader.timestamps.equals(windows.timestamps[50:120])


def test_shuffle_is_a_permutation_and_reproducible(windows):
    def first_values(seed):
        loader = WindowLoader(windows, batch_size=16, shuffle=True, generator=seed)
        return torch.cat([y[:, 0, 0, 0] for _, y in loader])

    a, b, c = first_values(1), first_values(1), first_values(2)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    torch.testing.assert_close(a.sort().values, windows.y[:, 0, 0, 0].sort().values)


def test_randomness_needs_an_explicit_generator(windows):
    with pytest.raises(ValueError, match="generator: expected a torch.Generator"):
        WindowLoader(windows, shuffle=True)


def test_asset_subsets_and_lookbacks(windows):
    loader = WindowLoader(
        windows, batch_size=8, generator=0, n_assets=3, lookback_range=(4, 7), drop_last=True
    )
    seen = set()
    for x, y in loader:
        assert x.shape[2] == 3 and y.shape[2] == 3
        assert 4 <= x.shape[-1] <= 7
        seen.add(x.shape[-1])
    assert len(seen) > 1
    with pytest.raises(ValueError, match="n_assets: expected 1..6, got 7"):
        WindowLoader(windows, generator=0, n_assets=7)


def test_subset_assets_match_targets(windows):
    loader = WindowLoader(windows, batch_size=4, generator=3, n_assets=2)
    x, y = next(iter(loader))
    # x's last step on the next sample equals y's first step: assets are aligned
    full_x = windows.x[: 4 + 1]
    match = [(full_x[1:, 0, a, -1] == y[:, 0, 0, 0]).all().item() for a in range(6)]
    assert sum(match) == 1


def test_torch_dataset(windows):
    ds = WindowDataset(windows, [3, 5])
    x, y = ds[1]
    torch.testing.assert_close(x, windows.x[5])
    assert len(ds) == 2
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    assert next(iter(loader))[0].shape == (2, 1, 6, 10)


def test_bad_indices(windows):
    with pytest.raises(ValueError, match="indices: expected sample indices in \\[0, 188\\)"):
        WindowLoader(windows, [0, 500])


def test_augmentations_touch_x_only_and_are_seeded(windows):
    aug = Compose([GaussianNoise(0.5), Dropout(0.2), MultiplicativeScaling(0.5, 1.5)])
    a = WindowLoader(windows, batch_size=200, generator=5, augment=aug)
    b = WindowLoader(windows, batch_size=200, generator=5, augment=aug)
    (xa, ya), (xb, _) = next(iter(a)), next(iter(b))
    torch.testing.assert_close(xa, xb)
    torch.testing.assert_close(ya, windows.y)
    assert not torch.allclose(xa, windows.x)
    zero_share = (Dropout(0.3)(windows.x, torch.Generator().manual_seed(0)) == 0).float().mean()
    assert 0.25 < zero_share < 0.35
    noise = GaussianNoise(0.1)(windows.x, torch.Generator().manual_seed(0)) - windows.x
    ratio = noise.std() / windows.x.std()
    assert 0.07 < ratio < 0.13
