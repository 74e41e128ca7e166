"""Attention across assets: a transformer encoder over the asset axis."""

from __future__ import annotations

import torch
from torch import nn

from deepalloc._checks import check_ndim


class CrossAssetAttention(nn.Module):
    """A transformer encoder over the asset axis (no positional encoding).

    Every asset attends to every other, so the block models interactions between
    assets while staying permutation-equivariant and working for any number of assets.

    Parameters
    ----------
    in_features
        Features per asset of the input.
    d_model, n_heads, n_layers, dropout
        Transformer sizes.
    """

    def __init__(
        self,
        in_features: int,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 1,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.project = nn.Linear(in_features, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=2 * d_model, dropout=dropout, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.out_features = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, features, asset) -> (batch, d_model, asset)."""
        check_ndim("x", x, 3, "batch, features, asset")
        tokens = self.project(x.transpose(1, 2))
        return self.encoder(tokens).transpose(1, 2)
