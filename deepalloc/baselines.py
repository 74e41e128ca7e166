"""Classical, non-trained allocation rules, called like a network: ``weights = rule(x)``.

Each reads the returns channel of windows x (batch, channel, asset, lookback), simple
returns: ``returns_channel`` is an index, a name, or ``None`` (the only channel, else
the one named ``"returns"``, found from the windows' channel names when the rule runs
through :func:`deepalloc.training.predict` or a suite; see :mod:`deepalloc._channels`), and returns long-only weights (batch, asset) that
sum to one, in x's dtype. Estimates use the lookback window only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from torch import nn

from deepalloc._channels import ChannelSpec, ReadsReturns
from deepalloc._checks import check_feasible_cap, check_ndim
from deepalloc._recording import Recorded
from deepalloc.allocators import MinVarianceAllocator, RiskBudgetingAllocator
from deepalloc.functional.risk import SHRINK_TARGETS, covariance, matrix_sqrt, shrink


class Baseline(ReadsReturns, Recorded, nn.Module):
    """Shared input handling: pick the returns channel, check shapes."""

    def __init__(self, returns_channel: ChannelSpec = None):
        super().__init__()
        self.returns_channel = returns_channel

    def returns(self, x: torch.Tensor) -> torch.Tensor:
        """The returns channel of x, shape (batch, asset, lookback)."""
        check_ndim("x", x, 4, "batch, channel, asset, lookback")
        return x[:, self.channel_index(x.shape[1])]


class EqualWeight(Baseline):
    """``1 / n`` in every asset."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        r = self.returns(x)
        return torch.full(r.shape[:2], 1.0 / r.shape[1], dtype=x.dtype, device=x.device)


class InverseVolatility(Baseline):
    """Weights proportional to ``1 / std`` of each asset's returns over the lookback."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        inv = 1.0 / self.returns(x).std(-1).clamp_min(torch.finfo(x.dtype).tiny)
        return inv / inv.sum(-1, keepdim=True)


Shrinkage = Literal["diagonal", "identity", "constant_correlation"]


def _check_shrinkage(shrinkage: str | None, intensity: float) -> None:
    """Validate the covariance shrinkage options at construction."""
    if shrinkage is not None and shrinkage not in SHRINK_TARGETS:
        raise ValueError(f"shrinkage: expected one of {SHRINK_TARGETS} or None, got {shrinkage!r}")
    if isinstance(intensity, bool) or not isinstance(intensity, int | float):
        raise TypeError(f"intensity: expected a number in [0, 1], got {intensity!r}")
    if not 0 <= intensity <= 1:
        raise ValueError(f"intensity: expected a number in [0, 1], got {intensity!r}")


def _cov(r: torch.Tensor, shrinkage: str | None, intensity: float) -> torch.Tensor:
    cov = covariance(r, ddof=1)
    return cov if shrinkage is None else shrink(cov, shrinkage, intensity)


class MinimumVariance(Baseline):
    """Long-only minimum variance of the sample covariance (exact QP).

    Parameters
    ----------
    shrinkage, intensity
        Explicit shrinkage of the covariance (none by default): a target among
        ``"diagonal"``, ``"identity"``, ``"constant_correlation"`` and an intensity.
    max_weight
        Cap on every weight.
    """

    def __init__(
        self,
        shrinkage: Shrinkage | None = None,
        intensity: float = 0.1,
        *,
        max_weight: float = 1.0,
        returns_channel: ChannelSpec = None,
    ):
        super().__init__(returns_channel)
        _check_shrinkage(shrinkage, intensity)
        self.shrinkage, self.intensity = shrinkage, intensity
        self.allocator = MinVarianceAllocator(max_weight=max_weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        cov = _cov(self.returns(x), self.shrinkage, self.intensity)
        return self.allocator(matrix_sqrt(cov, jitter=1e-8))


class RiskParity(Baseline):
    """Equal risk contributions of the sample covariance (exact: Spinu's damped Newton
    method, which converges on every positive definite covariance; see
    :mod:`deepalloc.allocators.risk_budgeting`).

    Parameters
    ----------
    shrinkage, intensity
        Explicit shrinkage of the covariance (none by default), as for
        :class:`MinimumVariance`.
    """

    def __init__(
        self,
        shrinkage: Shrinkage | None = None,
        intensity: float = 0.1,
        *,
        returns_channel: ChannelSpec = None,
    ):
        super().__init__(returns_channel)
        _check_shrinkage(shrinkage, intensity)
        self.shrinkage, self.intensity = shrinkage, intensity
        self.allocator = RiskBudgetingAllocator()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        cov = _cov(self.returns(x), self.shrinkage, self.intensity)
        return self.allocator(matrix_sqrt(cov, jitter=1e-8))


class MaximumSharpe(Baseline):
    """Long-only tangency portfolio of the sample mean and covariance.

    Solves ``min y' C y`` subject to ``mu' y = 1, y >= 0`` and returns ``y / sum(y)``
    (the convex layer's ``"max_sharpe"`` objective). A sample whose assets all have a
    non-positive mean return has no positive Sharpe ratio: it gets the single asset with
    the highest individual Sharpe ratio.
    """

    def __init__(
        self,
        shrinkage: Shrinkage | None = None,
        intensity: float = 0.1,
        *,
        returns_channel: ChannelSpec = None,
    ):
        super().__init__(returns_channel)
        _check_shrinkage(shrinkage, intensity)
        self.shrinkage, self.intensity = shrinkage, intensity
        self._layers: dict[int, nn.Module] = {}

    def _layer(self, n: int) -> nn.Module:
        if n not in self._layers:
            from deepalloc.allocators import ConvexAllocator

            self._layers[n] = ConvexAllocator(n, objective="max_sharpe")
        return self._layers[n]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        r = self.returns(x)
        mu = r.mean(-1)
        cov = _cov(r, self.shrinkage, self.intensity)
        sharpe = mu / torch.diagonal(cov, dim1=-2, dim2=-1).sqrt()
        out = torch.nn.functional.one_hot(sharpe.argmax(-1), r.shape[1]).to(x.dtype)
        ok = (mu > 0).any(-1)
        if bool(ok.any()):
            w = self._layer(r.shape[1])(mu=mu[ok], cov_sqrt=matrix_sqrt(cov[ok], jitter=1e-8))
            out[ok] = w.clamp_min(0).to(x.dtype)
        return out


class HierarchicalRiskParity(Baseline):
    """Hierarchical risk parity (López de Prado, 2016): single-linkage clustering of the
    correlation distance ``sqrt((1 - rho) / 2)``, quasi-diagonal ordering, then recursive
    bisection with inverse-variance allocation between the two halves."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform

        cov = covariance(self.returns(x).detach().double(), ddof=1).cpu().numpy()
        out = np.zeros(cov.shape[:2])
        for b, c in enumerate(cov):
            std = np.sqrt(np.diag(c))
            corr = np.clip(c / np.outer(std, std), -1.0, 1.0)
            dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, None))
            np.fill_diagonal(dist, 0.0)
            order = leaves_list(linkage(squareform(dist, checks=False), method="single"))
            out[b] = _bisect(c, list(order))
        return torch.as_tensor(out, dtype=x.dtype, device=x.device)


def _bisect(cov: np.ndarray, order: list[int]) -> np.ndarray:
    weights = np.ones(len(cov))
    clusters = [order]
    while clusters:
        clusters = [
            part for c in clusters if len(c) > 1 for part in (c[: len(c) // 2], c[len(c) // 2 :])
        ]
        for left, right in zip(clusters[::2], clusters[1::2], strict=True):
            var_l, var_r = _cluster_variance(cov, left), _cluster_variance(cov, right)
            alpha = 1.0 - var_l / (var_l + var_r)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
    return weights


def _cluster_variance(cov: np.ndarray, items: list[int]) -> float:
    sub = cov[np.ix_(items, items)]
    ivp = 1.0 / np.diag(sub)
    ivp /= ivp.sum()
    return float(ivp @ sub @ ivp)


class MaximumReturn(Baseline):
    """Long-only maximum mean return: fill the highest-mean assets up to ``max_weight``."""

    def __init__(self, max_weight: float = 1.0, *, returns_channel: ChannelSpec = None):
        super().__init__(returns_channel)
        self.max_weight = max_weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        mu = self.returns(x).mean(-1)
        n = mu.shape[1]
        check_feasible_cap(n, self.max_weight)
        order = torch.argsort(mu, dim=-1, descending=True)
        filled = torch.arange(n, dtype=x.dtype, device=x.device) * self.max_weight
        ranked = (1.0 - filled).clamp(0.0, self.max_weight)
        return torch.zeros_like(mu).scatter(-1, order, ranked.expand_as(mu))


class RandomWeights(Baseline):
    """Uniform on the simplex (Dirichlet(1)), from a generator seeded with ``seed``;
    every call draws new weights."""

    def __init__(self, seed: int, *, returns_channel: ChannelSpec = None):
        super().__init__(returns_channel)
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        shape = self.returns(x).shape[:2]
        e = -torch.log(torch.rand(shape, generator=self.generator, dtype=torch.float64))
        return (e / e.sum(-1, keepdim=True)).to(device=x.device, dtype=x.dtype)


class SingleAsset(Baseline):
    """Everything in the asset at position ``index``."""

    def __init__(self, index: int, *, returns_channel: ChannelSpec = None):
        super().__init__(returns_channel)
        self.index = index

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        n = self.returns(x).shape[1]
        if not -n <= self.index < n:
            raise ValueError(f"index: expected an asset position in [0, {n}), got {self.index}")
        out = torch.zeros(x.shape[0], n, dtype=x.dtype, device=x.device)
        out[:, self.index] = 1.0
        return out


class FixedWeights(Baseline):
    """The same user-given weights for every sample."""

    def __init__(
        self, weights: Sequence[float] | torch.Tensor, *, returns_channel: ChannelSpec = None
    ):
        super().__init__(returns_channel)
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> weights (batch, asset)."""
        n = self.returns(x).shape[1]
        w: torch.Tensor = self.weights  # type: ignore[assignment]
        if w.shape != (n,):
            raise ValueError(
                f"weights: expected {n} weights for {n} assets, got shape {tuple(w.shape)}"
            )
        return w.to(device=x.device, dtype=x.dtype).expand(x.shape[0], n)


__all__ = [
    "Baseline",
    "EqualWeight",
    "FixedWeights",
    "HierarchicalRiskParity",
    "InverseVolatility",
    "MaximumReturn",
    "MaximumSharpe",
    "MinimumVariance",
    "RandomWeights",
    "RiskParity",
    "SingleAsset",
]
