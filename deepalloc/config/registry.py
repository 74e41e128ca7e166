"""Names a configuration file may use for losses, baselines, networks and allocators.

Each table maps the name written in the file to what builds the object; the schema
(:mod:`deepalloc.config.sections`) takes its choices from these tables, so a name
added here becomes valid everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from deepalloc import allocators, baselines, losses, networks

LOSSES: dict[str, Callable[[], losses.Loss]] = {
    "sharpe": losses.SharpeLoss,
    "sortino": losses.SortinoLoss,
    "mean_return": losses.MeanReturnLoss,
    "cumulative_return": losses.CumulativeReturnLoss,
    "volatility": losses.VolatilityLoss,
    "max_drawdown": losses.MaxDrawdownLoss,
    "cvar": losses.CVaRLoss,
    "downside_risk": losses.DownsideRiskLoss,
}
BASELINES: dict[str, Callable[[], nn.Module]] = {
    "equal_weight": baselines.EqualWeight,
    "inverse_volatility": baselines.InverseVolatility,
    "minimum_variance": baselines.MinimumVariance,
    "maximum_sharpe": baselines.MaximumSharpe,
    "risk_parity": baselines.RiskParity,
    "hierarchical_risk_parity": baselines.HierarchicalRiskParity,
    "maximum_return": baselines.MaximumReturn,
}
NETWORKS = (
    "dense",
    "conv",
    "lstm",
    "gru",
    "stacked_lstm",
    "lstm_markowitz",
    "attention",
    "tcn",
    "tcn_markowitz",
)
MEAN_VARIANCE_NETWORKS = ("lstm_markowitz", "tcn_markowitz")
"""Network types whose head needs a mean-variance allocator."""
ALLOCATORS = ("softmax", "sparsemax", "tanh", "markowitz")
UNCAPPED_ALLOCATORS = ("tanh",)
"""Allocators without a ``max_weight`` cap."""


def default_allocator(network_type: str) -> str:
    """The allocator a network type gets when its entry names none."""
    return "markowitz" if network_type in MEAN_VARIANCE_NETWORKS else "softmax"


def make_allocator(name: str, max_weight: float | None) -> nn.Module:
    """The allocator ``name`` (one of :data:`ALLOCATORS`) with an optional cap."""
    if name == "softmax":
        return allocators.SoftmaxAllocator(max_weight=max_weight)
    if name == "sparsemax":
        return allocators.SparsemaxAllocator(max_weight=max_weight)
    if name == "tanh":
        return allocators.TanhAllocator()
    return allocators.MarkowitzAllocator(max_weight=max_weight or 1.0)


def network_builder(
    spec: Mapping[str, Any], *, holdings_aware: bool = False
) -> Callable[[int, int, int], nn.Module]:
    """``build(n_channels, n_assets, lookback)`` for a validated ``[[networks]]`` entry."""
    kind: str = spec["type"]
    hidden: int = spec["hidden_size"]
    allocator: str = spec["allocator"] or default_allocator(kind)
    cap: float | None = spec["max_weight"]

    def build(n_channels: int, n_assets: int, lookback: int) -> nn.Module:
        alloc = make_allocator(allocator, cap)
        if kind == "dense":
            return networks.DenseNet(
                n_channels,
                lookback,
                hidden=(hidden, hidden // 2 or 1),
                allocator=alloc,
                holdings_aware=holdings_aware,
            )
        if kind == "conv":
            return networks.ConvNet(
                n_channels, lookback, hidden=hidden, allocator=alloc, holdings_aware=holdings_aware
            )
        if kind == "attention":
            return networks.AttentionNet(
                n_channels, hidden_size=hidden, allocator=alloc, holdings_aware=holdings_aware
            )
        if kind == "lstm_markowitz":
            return networks.LSTMMarkowitzNet(
                n_channels, hidden_size=hidden, allocator=alloc, holdings_aware=holdings_aware
            )
        if kind in ("tcn", "tcn_markowitz"):
            net = networks.TCNMarkowitzNet if kind == "tcn_markowitz" else networks.TCNNet
            return net(
                n_channels, channels=(hidden,) * 4, allocator=alloc, holdings_aware=holdings_aware
            )
        net_class = {
            "lstm": networks.LSTMNet,
            "gru": networks.GRUNet,
            "stacked_lstm": networks.StackedLSTMNet,
        }[kind]
        return net_class(
            n_channels, hidden_size=hidden, allocator=alloc, holdings_aware=holdings_aware
        )

    return build


__all__ = [
    "ALLOCATORS",
    "BASELINES",
    "LOSSES",
    "MEAN_VARIANCE_NETWORKS",
    "NETWORKS",
    "UNCAPPED_ALLOCATORS",
    "default_allocator",
    "make_allocator",
    "network_builder",
]
