"""Dense (fully connected) blocks over windows (batch, channel, asset, lookback)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from deepalloc._checks import check_choice, check_ndim

ACTIVATIONS = ("relu", "leaky_relu", "tanh", "maxout")
"""The activations: the options of the ``activation`` of :class:`MLP` and of the dense networks."""


class Maxout(nn.Module):
    """A learned maximum over ``k`` linear pieces: ``max_j (W_j x + b_j)``."""

    def __init__(self, in_features: int, out_features: int, k: int = 2):
        super().__init__()
        self.out_features, self.k = out_features, k
        self.linear = nn.Linear(in_features, out_features * k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., out_features)."""
        pieces = self.linear(x).unflatten(-1, (self.out_features, self.k))
        return pieces.max(-1).values


def _activation(name: str) -> nn.Module:
    return {"relu": nn.ReLU(), "leaky_relu": nn.LeakyReLU(0.01), "tanh": nn.Tanh()}[name]


class MLP(nn.Module):
    """A multilayer perceptron on the last axis.

    Parameters
    ----------
    in_features, out_features
        Sizes of the input and output.
    hidden
        Sizes of the hidden layers.
    activation
        ``"relu"``, ``"leaky_relu"``, ``"tanh"`` or ``"maxout"`` (a learned max over
        ``maxout_k`` linear pieces replaces each hidden linear layer and activation).
    dropout
        Dropout after each hidden layer.
    norm
        ``None``, ``"batch"`` or ``"layer"`` normalisation after each hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: Sequence[int] = (32,),
        *,
        activation: Literal["relu", "leaky_relu", "tanh", "maxout"] = "relu",
        maxout_k: int = 2,
        dropout: float = 0.0,
        norm: Literal["batch", "layer"] | None = None,
    ):
        super().__init__()
        check_choice("activation", activation, ACTIVATIONS)
        if norm is not None:
            check_choice("norm", norm, ("batch", "layer"))
        layers: list[nn.Module] = []
        size = in_features
        for width in hidden:
            if activation == "maxout":
                layers.append(Maxout(size, width, maxout_k))
            else:
                layers += [nn.Linear(size, width), _activation(activation)]
            if norm == "batch":
                layers.append(_BatchNormLast(width))
            elif norm == "layer":
                layers.append(nn.LayerNorm(width))
            if dropout:
                layers.append(nn.Dropout(dropout))
            size = width
        layers.append(nn.Linear(size, out_features))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., out_features)."""
        return self.net(x)


class _BatchNormLast(nn.Module):
    """Batch normalisation of the last axis, over every other axis."""

    def __init__(self, features: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.shape[-1])
        return self.norm(flat).reshape(x.shape)


class Dense(nn.Module):
    """An MLP over windows, per asset (shared weights) or over the whole cross-section.

    Parameters
    ----------
    n_channels, lookback
        Channels and lookback of the input windows.
    out_features
        Output size: features per asset (``per_asset=True``) or in total.
    per_asset
        ``True``: each asset's window (channel x lookback) goes through the same MLP,
        so the block works for any number of assets and is permutation-equivariant;
        output (batch, out_features, asset). ``False``: the whole window
        (channel x asset x lookback, so ``n_assets`` is needed) is one input; output
        (batch, out_features).
    n_assets
        Number of assets (only with ``per_asset=False``).
    **mlp
        ``hidden``, ``activation``, ``maxout_k``, ``dropout``, ``norm`` of :class:`MLP`.
    """

    def __init__(
        self,
        n_channels: int,
        lookback: int,
        out_features: int,
        *,
        per_asset: bool = True,
        n_assets: int | None = None,
        **mlp: object,
    ):
        super().__init__()
        if not per_asset and n_assets is None:
            raise ValueError(
                "n_assets: expected the number of assets for per_asset=False, got None"
            )
        self.per_asset = per_asset
        self.lookback = lookback
        in_features = n_channels * lookback * (1 if per_asset else int(n_assets or 1))
        self.mlp = MLP(in_features, out_features, **mlp)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channel, asset, lookback) -> (batch, out, asset) or (batch, out)."""
        check_ndim("x", x, 4, "batch, channel, asset, lookback")
        if x.shape[-1] != self.lookback:
            raise ValueError(f"x: expected lookback {self.lookback}, got {x.shape[-1]}")
        if self.per_asset:
            flat = x.permute(0, 2, 1, 3).flatten(2)  # (batch, asset, channel * lookback)
            return self.mlp(flat).transpose(1, 2)
        return self.mlp(x.flatten(1))
