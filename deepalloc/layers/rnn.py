"""Recurrent blocks run on every asset's sequence, vectorised over batch x asset."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from deepalloc._checks import check_choice, check_ndim

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class AssetRNN(nn.Module):
    """An RNN, LSTM or GRU shared by every asset, all assets and samples in one call.

    Parameters
    ----------
    in_channels
        Channels of the input (the features of each time step).
    hidden_size
        Hidden units per direction.
    cell
        ``"lstm"``, ``"gru"`` or ``"rnn"``.
    num_layers
        Stacked layers.
    bidirectional
        Run forward and backward in time (outputs concatenated).
    dropout
        Dropout between stacked layers.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_size: int,
        *,
        cell: Literal["lstm", "gru", "rnn"] = "lstm",
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        check_choice("cell", cell, tuple(_CELLS))
        self.rnn = _CELLS[cell](
            in_channels,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.out_channels = hidden_size * (2 if bidirectional else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, out_channels, asset, time)."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        b, c, a, t = x.shape
        seq = x.permute(0, 2, 3, 1).reshape(b * a, t, c)
        out, _ = self.rnn(seq)
        return out.reshape(b, a, t, -1).permute(0, 3, 1, 2)
