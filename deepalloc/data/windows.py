"""Rolling windows over date x asset frames, as strided views.

For decision row ``t`` (the last date inside the lookback) a sample holds

- ``x``: feature rows ``t - lookback + 1 .. t``, shape (channel, asset, lookback);
- ``y``: target rows ``t + 1 + gap .. t + gap + horizon``, shape (target_channel, asset, horizon).

The frames are converted to one tensor each, once; ``x`` and ``y`` are views made with
:meth:`torch.Tensor.unfold`, so memory stays proportional to the data however long the
lookback. Indexing a batch (``windows.x[idx]``) copies only that batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias

import numpy as np
import pandas as pd
import torch

from deepalloc._checks import check_choice, check_positive_int
from deepalloc._typing import ReturnsKind
from deepalloc.data.frames import align_frames, check_returns

FrameInput: TypeAlias = pd.DataFrame | Mapping[str, pd.DataFrame]


@dataclass(frozen=True, eq=False)
class Windows:
    """Samples of (x, y) windows over a market history.

    Attributes
    ----------
    data
        Features, shape (channel, asset, time), one row of ``dates`` per time step.
    target_data
        Targets, shape (target_channel, asset, time), or ``None`` when ``horizon == 0``
        (inference on data with no future).
    dates
        Every date of the history, length time.
    assets, channels, target_channels
        Labels of the asset, channel and target-channel axes.
    lookback, horizon, gap
        Window lengths, in rows.
    returns_kind
        Whether the returns in the targets are ``"simple"`` or ``"log"``.
    """

    data: torch.Tensor
    target_data: torch.Tensor | None
    dates: pd.DatetimeIndex
    assets: pd.Index
    channels: tuple[str, ...]
    target_channels: tuple[str, ...]
    lookback: int
    horizon: int
    gap: int
    returns_kind: ReturnsKind

    def __len__(self) -> int:
        return self.n_samples

    @property
    def n_samples(self) -> int:
        """Number of complete samples (every sample has its full lookback and horizon)."""
        return (
            self.data.shape[-1] - self.lookback + 1 - (self.gap + self.horizon) * (self.horizon > 0)
        )

    @property
    def x(self) -> torch.Tensor:
        """Feature windows, shape (n_samples, channel, asset, lookback), a view of ``data``."""
        view = self.data.unfold(-1, self.lookback, 1).permute(2, 0, 1, 3)
        return view[: self.n_samples]

    @property
    def y(self) -> torch.Tensor | None:
        """Target windows, shape (n_samples, target_channel, asset, horizon), a view."""
        if self.target_data is None:
            return None
        view = self.target_data.unfold(-1, self.horizon, 1).permute(2, 0, 1, 3)
        start = self.lookback + self.gap
        return view[start : start + self.n_samples]

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """Decision date of each sample (the last date inside its lookback)."""
        return self.dates[self.lookback - 1 : self.lookback - 1 + self.n_samples]

    def inputs(self, indices: np.ndarray | Sequence[int]) -> Windows:
        """Inputs-only windows (``horizon`` 0) whose samples are ``indices``, a contiguous
        block, for predicting on a test block: nothing after its last decision date is
        kept."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or len(idx) == 0 or np.any(np.diff(idx) != 1):
            raise ValueError(
                f"indices: expected a contiguous, non-empty block of samples, got {len(idx)} "
                "indices that are not consecutive"
            )
        if idx[0] < 0 or idx[-1] >= self.n_samples:
            raise ValueError(
                f"indices: expected samples in [0, {self.n_samples}), got [{idx[0]}, {idx[-1]}]"
            )
        start, stop = int(idx[0]), int(idx[-1]) + self.lookback
        return Windows(
            data=self.data[..., start:stop],
            target_data=None,
            dates=self.dates[start:stop],
            assets=self.assets,
            channels=self.channels,
            target_channels=(),
            lookback=self.lookback,
            horizon=0,
            gap=0,
            returns_kind=self.returns_kind,
        )

    def without_targets(self) -> Windows:
        """Inputs-only windows over the same history (``horizon`` 0): every date with a
        full lookback is a sample, the last date included."""
        return replace(self, target_data=None, target_channels=(), horizon=0, gap=0)

    def asset_returns(self, channel: int | str = 0) -> pd.DataFrame:
        """Simple asset returns by date (date x asset) from a target channel.

        The targets are stored in the windows' dtype (float32 by default), so these
        returns carry its precision; keep the original returns frame when you have it.
        """
        if self.target_data is None:
            raise ValueError("windows: expected targets holding returns, got windows without y")
        if isinstance(channel, str):
            if channel not in self.target_channels:
                raise ValueError(
                    f"channel: expected one of the target channels {list(self.target_channels)}, "
                    f"got {channel!r}"
                )
            channel = self.target_channels.index(channel)
        values = self.target_data[channel].T.double().cpu().numpy()
        if self.returns_kind == "log":
            values = np.expm1(values)
        return pd.DataFrame(values, index=self.dates, columns=self.assets)

    def with_data(self, data: torch.Tensor) -> Windows:
        """Return a copy of these windows over new feature data of the same shape."""
        if data.shape != self.data.shape:
            raise ValueError(f"data: expected shape {tuple(self.data.shape)}, got {data.shape}")
        return replace(self, data=data)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Windows:
        """Move the underlying tensors to ``device`` and/or ``dtype``."""
        target = None if self.target_data is None else self.target_data.to(device, dtype)
        return replace(self, data=self.data.to(device, dtype), target_data=target)


def _as_channels(frames: FrameInput, name: str, default: str) -> dict[str, pd.DataFrame]:
    if isinstance(frames, pd.DataFrame):
        if isinstance(frames.columns, pd.MultiIndex):
            if frames.columns.nlevels != 2:
                raise ValueError(
                    f"{name}: expected (channel, asset) MultiIndex columns, got "
                    f"{frames.columns.nlevels} levels"
                )
            channels = frames.columns.get_level_values(0).unique()
            return {str(c): frames[c] for c in channels}
        return {default: frames}
    if isinstance(frames, Mapping):
        return {str(k): v for k, v in frames.items()}
    raise TypeError(
        f"{name}: expected a DataFrame, a dict of DataFrames or (channel, asset) MultiIndex "
        f"columns, got {type(frames).__name__}"
    )


def _stack(frames: dict[str, pd.DataFrame], dtype: torch.dtype) -> torch.Tensor:
    arrays = [f.to_numpy(dtype=np.float64).T for f in frames.values()]
    return torch.from_numpy(np.ascontiguousarray(np.stack(arrays))).to(dtype)


def make_windows(
    features: FrameInput,
    *,
    lookback: int,
    horizon: int,
    gap: int = 0,
    targets: FrameInput | None = None,
    returns_kind: ReturnsKind = "simple",
    dtype: torch.dtype = torch.float32,
) -> Windows:
    """Cut a market history into (x, y) samples.

    Parameters
    ----------
    features
        A date x asset DataFrame (one channel), a dict channel -> DataFrame, or a
        DataFrame with (channel, asset) MultiIndex columns. All channels must share
        dates and assets exactly (see :func:`deepalloc.data.align_frames`).
    lookback
        Rows in each input window (>= 1).
    horizon
        Rows in each target window (>= 1), or 0 for inputs only (inference on data
        whose future is unknown; then ``y`` is ``None`` and every date with a full
        lookback is a sample).
    gap
        Rows skipped between the decision date and the first target row (>= 0).
    targets
        Frame(s) of asset returns for ``y``, on the same dates and assets as the
        features. Defaults to the features when they are a single channel. Checked
        with :func:`deepalloc.data.check_returns` (as the backtest's returns): a frame
        that looks like prices or a simple return of -100% or below is refused.
    returns_kind
        Whether the target returns are ``"simple"`` or ``"log"``; recorded once here.
    dtype
        Floating dtype of ``x`` and ``y``.

    Returns
    -------
    Windows
        ``x`` of shape (n_samples, channel, asset, lookback), ``y`` of shape
        (n_samples, target_channel, asset, horizon), decision ``timestamps``.
    """
    check_positive_int("lookback", lookback)
    check_positive_int("horizon", horizon, allow_zero=True)
    check_positive_int("gap", gap, allow_zero=True)
    check_choice("returns_kind", returns_kind, ("simple", "log"))
    feats = align_frames(_as_channels(features, "features", "features"))
    ref = next(iter(feats.values()))
    target_frames: dict[str, pd.DataFrame] | None = None
    if horizon > 0:
        if targets is None:
            if len(feats) != 1:
                raise ValueError(
                    f"targets: expected a returns frame when features have several channels, "
                    f"got None with channels {list(feats)}"
                )
            check_returns(ref, "targets (the features by default)", kind=returns_kind)
            target_frames = {"returns": ref}
        else:
            target_frames = _as_channels(targets, "targets", "returns")
            for tname, frame in target_frames.items():
                check_returns(frame, f"target {tname!r}", kind=returns_kind)
                if not frame.index.equals(ref.index) or list(frame.columns) != list(ref.columns):
                    raise ValueError(
                        f"target {tname!r}: expected the features' {len(ref)} dates and assets "
                        f"{list(ref.columns)}, got {len(frame)} dates and assets "
                        f"{list(frame.columns)}"
                    )
    needed = lookback + (gap + horizon if horizon > 0 else 0)
    if len(ref) < needed:
        raise ValueError(
            f"features: expected at least lookback + gap + horizon = {needed} dates, got {len(ref)}"
        )
    if not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating torch dtype, got {dtype}")
    return Windows(
        data=_stack(feats, dtype),
        target_data=None if target_frames is None else _stack(target_frames, dtype),
        dates=pd.DatetimeIndex(ref.index),
        assets=pd.Index(ref.columns),
        channels=tuple(feats),
        target_channels=() if target_frames is None else tuple(target_frames),
        lookback=lookback,
        horizon=horizon,
        gap=gap,
        returns_kind=returns_kind,
    )
