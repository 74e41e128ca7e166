"""Contiguous runs of decisions in time order, for sequential (after-cost) training.

A run is ``run_length`` decisions ``stride`` samples apart: decision ``k`` reads the
window of sample ``s + k stride`` and is held through the asset returns of the next
``stride`` rows, up to and including the next decision's date. The loader serves a
batch of runs at a time, each run in time order; runs are shuffled across an epoch
(with a random offset of their grid), never inside themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from deepalloc._channels import ChannelSpec, resolve_channel
from deepalloc._checks import check_positive_int
from deepalloc.data.windows import Windows


@dataclass(frozen=True)
class RunBatch:
    """A batch of runs.

    Attributes
    ----------
    x
        Windows of each decision, shape (run_length, batch, channel, asset, lookback).
    returns
        Simple asset returns held after each decision, shape
        (run_length, batch, asset, stride).
    samples
        Sample index of each decision, shape (run_length, batch).
    """

    x: torch.Tensor
    returns: torch.Tensor
    samples: torch.Tensor

    def to(self, device: torch.device | str | None, dtype: torch.dtype | None) -> RunBatch:
        """Move the tensors (not the sample indices)."""
        return RunBatch(self.x.to(device, dtype), self.returns.to(device, dtype), self.samples)


class SequentialLoader:
    """Batches of contiguous runs of decisions over a block of samples.

    Parameters
    ----------
    windows
        The samples; ``gap`` must be 0 (a decision is traded at its own close) and the
        returns channel is the target channel ``returns_channel``.
    indices
        Sample indices (a fold's training or validation block); runs never cross a gap
        between contiguous blocks (a purged test group of a combinatorial fold).
    run_length
        Decisions per run; ``None``: one run over the whole block (validation).
    stride
        Samples between decisions (1 daily, about 21 monthly for daily data); at most
        the horizon, so that every decision's holding period lies within its target.
    batch_size
        Runs per batch.
    shuffle, generator
        Shuffle the runs (and offset their grid) every pass, from this generator.
    costs_bps
        Proportional trading cost charged on every trade of the path, basis points.
    truncate_every
        Backpropagate through at most this many consecutive decisions: the holdings
        passed from one chunk to the next carry no gradient (truncated backpropagation
        through time). ``None``: through the whole run.
    returns_channel
        Target channel holding the asset returns: an index, a name or ``None`` (the only
        target channel, else the one named ``"returns"``).
    """

    def __init__(
        self,
        windows: Windows,
        indices: Sequence[int] | np.ndarray,
        *,
        run_length: int | None = 12,
        stride: int = 1,
        batch_size: int = 8,
        shuffle: bool = False,
        generator: torch.Generator | int | None = None,
        costs_bps: float = 0.0,
        truncate_every: int | None = None,
        returns_channel: ChannelSpec = None,
    ):
        if windows.target_data is None:
            raise ValueError("windows: expected targets holding returns, got windows without y")
        if windows.gap != 0:
            raise ValueError(f"windows: expected gap 0 for sequential trading, got {windows.gap}")
        check_positive_int("stride", stride)
        check_positive_int("batch_size", batch_size)
        if stride > windows.horizon:
            raise ValueError(
                f"stride: expected at most the horizon {windows.horizon}, got {stride}"
            )
        if truncate_every is not None:
            check_positive_int("truncate_every", truncate_every)
        if not np.isfinite(costs_bps) or costs_bps < 0:
            raise ValueError(f"costs_bps: expected a finite non-negative number, got {costs_bps}")
        idx = np.asarray(indices)
        if idx.ndim != 1 or len(idx) == 0 or np.any(np.diff(idx) <= 0):
            raise ValueError("indices: expected increasing, non-empty sample indices")
        self.blocks = np.split(idx, np.flatnonzero(np.diff(idx) != 1) + 1)
        n_decisions = max((len(b) - 1) // stride + 1 for b in self.blocks)
        length = n_decisions if run_length is None else check_positive_int("run_length", run_length)
        if length > n_decisions:
            raise ValueError(
                f"run_length: expected at most the {n_decisions} decisions the longest block "
                f"holds at stride {stride}, got {length}"
            )
        if isinstance(generator, int):
            generator = torch.Generator().manual_seed(generator)
        if shuffle and generator is None:
            raise ValueError("generator: expected a torch.Generator or an int seed for shuffling")
        self.windows, self.indices = windows, idx
        self.run_length, self.stride, self.batch_size = length, stride, batch_size
        self.shuffle, self.generator = shuffle, generator
        self.costs_bps, self.truncate_every = float(costs_bps), truncate_every
        self.returns_channel = resolve_channel(
            returns_channel, windows.target_channels, "SequentialLoader"
        )

    def starts(self) -> np.ndarray:
        """First sample of every run of this pass (a random grid offset when shuffling),
        runs tiling each contiguous block without crossing its ends."""
        span = (self.run_length - 1) * self.stride + 1
        out = []
        for block in self.blocks:
            if len(block) < span:
                continue
            offset = 0
            if self.shuffle:
                assert self.generator is not None
                slack = min(self.stride, len(block) - span + 1)
                offset = int(torch.randint(slack, (1,), generator=self.generator))
            out.append(np.arange(block[0] + offset, block[-1] - span + 2, span))
        return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return -(-len(self.starts()) // self.batch_size)

    def __iter__(self) -> Iterator[RunBatch]:
        starts = self.starts()
        if self.shuffle:
            starts = starts[torch.randperm(len(starts), generator=self.generator).numpy()]
        w = self.windows
        assert w.target_data is not None
        asset_returns = w.target_data[self.returns_channel]  # (asset, time)
        if w.returns_kind == "log":
            asset_returns = torch.expm1(asset_returns)
        steps = np.arange(self.run_length) * self.stride
        held_rows = np.arange(1, self.stride + 1)
        for b in range(0, len(starts), self.batch_size):
            samples = starts[b : b + self.batch_size][None, :] + steps[:, None]  # (run, batch)
            rows = samples[..., None] + w.lookback - 1 + held_rows  # (run, batch, stride)
            returns = asset_returns[:, torch.from_numpy(rows)].permute(1, 2, 0, 3)
            x = w.x[torch.from_numpy(samples)]
            yield RunBatch(x, returns, torch.from_numpy(samples))
