"""Torch datasets and batch loaders over :class:`~deepalloc.data.Windows`.

:class:`WindowLoader` indexes the strided window views directly, one batch at a time,
which is much faster than collating single samples. Every random choice (shuffling,
asset subsets, lookback lengths, augmentation) draws from one explicit
``torch.Generator``; the library never touches the global generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from deepalloc.data.windows import Windows

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _as_indices(windows: Windows, indices: Sequence[int] | np.ndarray | None) -> torch.Tensor:
    n = windows.n_samples
    if indices is None:
        return torch.arange(n)
    idx = torch.as_tensor(np.asarray(indices), dtype=torch.long)
    if idx.ndim != 1:
        raise ValueError(f"indices: expected a 1-d sequence, got shape {tuple(idx.shape)}")
    if len(idx) and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise ValueError(
            f"indices: expected sample indices in [0, {n}), got range "
            f"[{int(idx.min())}, {int(idx.max())}]"
        )
    return idx


class WindowDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Map-style dataset of (x, y) samples, for use with ``torch.utils.data.DataLoader``.

    Parameters
    ----------
    windows
        The samples.
    indices
        Which samples this dataset exposes (default all), in this order.
    """

    def __init__(self, windows: Windows, indices: Sequence[int] | np.ndarray | None = None):
        if windows.y is None:
            raise ValueError("windows: expected targets (horizon > 0), got windows without y")
        self.windows = windows
        self.indices = _as_indices(windows, indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return x of shape (channel, asset, lookback) and y of shape (channel, asset, horizon)."""
        i = int(self.indices[item])
        y = self.windows.y
        assert y is not None
        return self.windows.x[i], y[i]


class WindowLoader:
    """Iterate over batches of (x, y), shapes (batch, channel, asset, lookback|horizon).

    Parameters
    ----------
    windows
        The samples.
    indices
        Which samples to serve (default all). Without shuffling they come in this order.
    batch_size
        Samples per batch (default 32).
    shuffle
        Reshuffle the samples every pass (training); keep time order otherwise.
    drop_last
        Drop a last incomplete batch.
    generator
        ``torch.Generator`` (or an int seed for a new one) for every random choice.
        Required when ``shuffle``, ``n_assets``, ``lookback_range`` or ``augment`` ask
        for randomness.
    n_assets
        Draw a random subset of this many assets per batch (same subset within a batch).
    lookback_range
        ``(low, high)``: use a random lookback in ``[low, high]`` per batch (the most
        recent steps of each window).
    augment
        Callable ``(x, generator) -> x`` applied to each batch's x (never to y).
    device
        Device to move batches to.

    Attributes
    ----------
    timestamps
        Decision dates of the served samples, in serving order when not shuffled.
    """

    def __init__(
        self,
        windows: Windows,
        indices: Sequence[int] | np.ndarray | None = None,
        *,
        batch_size: int = 32,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: torch.Generator | int | None = None,
        n_assets: int | None = None,
        lookback_range: tuple[int, int] | None = None,
        augment: Augment | None = None,
        device: torch.device | str | None = None,
    ):
        if windows.y is None:
            raise ValueError("windows: expected targets (horizon > 0), got windows without y")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size}")
        n_total_assets = len(windows.assets)
        if n_assets is not None and not 1 <= n_assets <= n_total_assets:
            raise ValueError(f"n_assets: expected 1..{n_total_assets}, got {n_assets}")
        if lookback_range is not None:
            low, high = lookback_range
            if not 1 <= low <= high <= windows.lookback:
                raise ValueError(
                    f"lookback_range: expected 1 <= low <= high <= {windows.lookback}, "
                    f"got {lookback_range}"
                )
        random = shuffle or n_assets is not None or lookback_range is not None or augment
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        if random and generator is None:
            raise ValueError(
                "generator: expected a torch.Generator or an int seed for shuffling or random "
                "sampling, got None (deepalloc never draws from the global generator)"
            )
        self.windows = windows
        self.indices = _as_indices(windows, indices)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = generator
        self.n_assets = n_assets
        self.lookback_range = lookback_range
        self.augment = augment
        self.device = device

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """Decision dates of the served samples, in index order."""
        return self.windows.timestamps[self.indices.numpy()]

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.indices
        if self.shuffle:
            order = order[torch.randperm(len(order), generator=self.generator)]
        x_all, y_all = self.windows.x, self.windows.y
        assert y_all is not None
        for b in range(len(self)):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size]
            x, y = x_all[idx], y_all[idx]
            if self.n_assets is not None:
                n_total = x.shape[2]
                assets = torch.randperm(n_total, generator=self.generator)[: self.n_assets]
                assets = assets.sort().values
                x, y = x[:, :, assets], y[:, :, assets]
            if self.lookback_range is not None:
                low, high = self.lookback_range
                length = int(torch.randint(low, high + 1, (1,), generator=self.generator))
                x = x[..., -length:]
            if self.augment is not None:
                assert self.generator is not None
                x = self.augment(x, self.generator)
            yield x.to(self.device), y.to(self.device)
