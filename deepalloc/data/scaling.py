"""Feature scalers fitted on training samples only.

A scaler is fitted on the history rows that the given training samples read as input
(the union of their lookbacks), never on rows only later samples see, so validation and
test statistics cannot leak into training. Statistics are per channel, or per channel
and asset. Transforming returns new :class:`~deepalloc.data.Windows` whose feature data
is scaled (targets are untouched).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from deepalloc._recording import Recorded
from deepalloc.data.windows import Windows


def _input_rows(windows: Windows, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Boolean mask over time rows read as input by the given samples."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size == 0:
        raise ValueError("indices: expected at least one training sample to fit on, got none")
    if idx.min() < 0 or idx.max() >= windows.n_samples:
        raise ValueError(
            f"indices: expected sample indices in [0, {windows.n_samples}), got range "
            f"[{idx.min()}, {idx.max()}]"
        )
    delta = np.zeros(windows.data.shape[-1] + 1, dtype=np.int64)
    np.add.at(delta, idx, 1)
    np.add.at(delta, idx + windows.lookback, -1)
    return np.cumsum(delta[:-1]) > 0


class _Scaler(Recorded):
    """Shared fit/transform logic; subclasses define the centre and scale statistics."""

    def __init__(self, per_asset: bool = False, eps: float = 1e-12):
        self.per_asset = per_asset
        self.eps = eps
        self.center_: torch.Tensor | None = None
        self.scale_: torch.Tensor | None = None

    def _statistics(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def fit(self, windows: Windows, indices: Sequence[int] | np.ndarray) -> _Scaler:
        """Fit on the input rows of the training samples ``indices``.

        Parameters
        ----------
        windows
            Samples; ``windows.data`` has shape (channel, asset, time).
        indices
            Training sample indices.
        """
        rows = torch.from_numpy(_input_rows(windows, indices))
        data = windows.data[..., rows.to(windows.data.device)]
        if self.per_asset:
            values = data
        else:
            values = data.reshape(data.shape[0], 1, -1)
        center, scale = self._statistics(values)
        self.center_ = center.unsqueeze(-1)
        self.scale_ = scale.clamp_min(self.eps).unsqueeze(-1)
        return self

    def transform(self, windows: Windows) -> Windows:
        """Return windows whose features are ``(data - center) / scale``, shape unchanged."""
        if self.center_ is None or self.scale_ is None:
            raise ValueError("scaler: expected fit() to be called before transform(), got unfitted")
        if self.center_.shape[0] != windows.data.shape[0] or (
            self.per_asset and self.center_.shape[1] != windows.data.shape[1]
        ):
            raise ValueError(
                f"windows: expected {self.center_.shape[0]} channels"
                f"{f' and {self.center_.shape[1]} assets' if self.per_asset else ''} as fitted, "
                f"got data of shape {tuple(windows.data.shape)}"
            )
        return windows.with_data((windows.data - self.center_) / self.scale_)

    def fit_transform(self, windows: Windows, indices: Sequence[int] | np.ndarray) -> Windows:
        """Fit on ``indices`` and transform all of ``windows``."""
        return self.fit(windows, indices).transform(windows)


class StandardScaler(_Scaler):
    """Subtract the mean and divide by the standard deviation (ddof 0)."""

    def _statistics(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return values.mean(-1), values.std(-1, correction=0)


class RobustScaler(_Scaler):
    """Subtract the median and divide by the interquartile range (25th to 75th percentile)."""

    def _statistics(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        q = torch.tensor([0.25, 0.5, 0.75], dtype=values.dtype, device=values.device)
        q25, median, q75 = torch.quantile(values, q, dim=-1)
        return median, q75 - q25
