"""Temporal convolution networks (TCN): dilated causal convolutions over time.

Bai, Kolter and Koltun (2018), "An Empirical Evaluation of Generic Convolutional and
Recurrent Networks for Sequence Modeling" (arXiv:1803.01271), section 3: a stack of
residual blocks, block ``i`` made of two causal convolutions with kernel ``k`` and
dilation ``2^i``, each followed by a ReLU (and dropout), with a ``1 x 1`` convolution on
the skip path when the channel count changes. A causal convolution pads on the left
only, so the output at time ``t`` reads inputs at ``t`` and before: no lookahead inside
a window. The receptive field of ``L`` blocks is ``1 + 2 (k - 1) (2^L - 1)`` steps.

Here every asset's series goes through the same kernels (shared across assets, which
never mix), so the blocks are permutation-equivariant over assets and work for any
number of assets and any lookback. Unlike a recurrence, every time step is computed at
once, which makes these blocks much cheaper to train than an LSTM on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepalloc._checks import check_ndim, check_positive_int


class CausalConv(nn.Module):
    """A dilated causal convolution over time, shared by every series.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    kernel_size, dilation
        Kernel length and dilation along time; the input is padded on the left by
        ``(kernel_size - 1) * dilation`` steps, so the output keeps the input's length.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.pad = (kernel_size - 1) * dilation
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(series, channel, time) -> (series, out_channels, time)."""
        return self.conv(F.pad(x, (self.pad, 0)))


class TemporalBlock(nn.Module):
    """A residual block: two causal convolutions with ReLU and dropout, plus the skip.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out (a ``1 x 1`` convolution matches the skip path when they
        differ).
    kernel_size, dilation
        Of both convolutions.
    dropout
        Dropout after each ReLU.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.conv1 = CausalConv(in_channels, out_channels, kernel_size, dilation)
        self.conv2 = CausalConv(out_channels, out_channels, kernel_size, dilation)
        self.dropout = nn.Dropout(dropout)
        self.skip = nn.Conv1d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(series, channel, time) -> (series, out_channels, time)."""
        h = self.dropout(torch.relu(self.conv1(x)))
        h = self.dropout(torch.relu(self.conv2(h)))
        return torch.relu(h + (x if self.skip is None else self.skip(x)))

    def forward_sparse(self, x: torch.Tensor) -> torch.Tensor:
        """The block on a grid of every ``dilation``-th step: (series, channel, L) ->
        (series, out_channels, ceil(L / 2)), the output every ``2 dilation``-th step.

        ``x`` holds the input at times ``T - 1 - dilation * m`` (``m = L - 1, ..., 0``,
        oldest first); the output holds :meth:`forward`'s at ``T - 1 - 2 dilation * m``
        (exactly the same values, the same zero padding before time 0). On that grid the
        dilated convolutions are undilated ones, and the second is needed only at every
        other step (stride 2), which is all a last-step output reads
        (:meth:`TemporalConvNet.forward_last`).
        """
        k = self.conv1.conv.kernel_size[0]
        conv1, conv2 = self.conv1.conv, self.conv2.conv
        h = self.dropout(torch.relu(F.conv1d(F.pad(x, (k - 1, 0)), conv1.weight, conv1.bias)))
        start = (x.shape[-1] - 1) % 2  # keep the last step
        h = F.conv1d(F.pad(h, (k - 1, 0))[..., start:], conv2.weight, conv2.bias, stride=2)
        h = self.dropout(torch.relu(h))
        x = x[..., start::2]
        return torch.relu(h + (x if self.skip is None else self.skip(x)))


class TemporalConvNet(nn.Module):
    """A TCN over each asset's window: (batch, channel, asset, time) -> same layout.

    Parameters
    ----------
    in_channels
        Channels of x.
    channels
        Output channels of each residual block; block ``i`` has dilation ``2^i``.
    kernel_size
        Kernel length of every convolution.
    dropout
        Dropout inside the blocks.
    """

    def __init__(
        self,
        in_channels: int,
        channels: Sequence[int] = (16, 16, 16, 16),
        *,
        kernel_size: int = 3,
        dropout: float = 0.0,
    ):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("kernel_size", kernel_size)
        if not channels:
            raise ValueError("channels: expected at least one block, got none")
        sizes = [in_channels, *channels]
        self.blocks = nn.Sequential(
            *(
                TemporalBlock(sizes[i], sizes[i + 1], kernel_size, 2**i, dropout)
                for i in range(len(channels))
            )
        )
        self.out_channels = sizes[-1]
        self.receptive_field = 1 + 2 * (kernel_size - 1) * (2 ** len(channels) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, out_channels, asset, time)."""
        check_ndim("x", x, 4, "batch, channel, asset, time")
        b, c, a, t = x.shape
        series = x.permute(0, 2, 1, 3).reshape(b * a, c, t)
        out = self.blocks(series)
        return out.reshape(b, a, self.out_channels, t).permute(0, 2, 1, 3)

    def forward_last(self, x: torch.Tensor) -> torch.Tensor:
        """The output at the last time step only: (batch, channel, asset, time) ->
        (batch, out_channels, asset), equal to ``forward(x)[..., -1]``.

        Only the steps the last output reads are computed: block ``i`` runs on every
        ``2^i``-th step counted back from the last
        (:meth:`TemporalBlock.forward_sparse`), so the first block's second convolution
        already runs on half the steps and each later block on half as many as the one
        before; with four blocks about a third of the convolution work of
        :meth:`forward`.
        """
        check_ndim("x", x, 4, "batch, channel, asset, time")
        b, c, a, t = x.shape
        series = x.permute(0, 2, 1, 3).reshape(b * a, c, t)
        for block in self.blocks:
            assert isinstance(block, TemporalBlock)
            series = block.forward_sparse(series)
        return series[..., -1].reshape(b, a, self.out_channels).transpose(1, 2)


class LastStepTCN(TemporalConvNet):
    """:class:`TemporalConvNet` whose output is the last time step only:
    (batch, channel, asset, time) -> (batch, out_channels, asset), computed by
    :meth:`~TemporalConvNet.forward_last` (the same values as the last step of the full
    output, about a third of the work with four blocks). The parameters are those of
    :class:`TemporalConvNet`, so a state dict moves between the two."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, channel, asset, time) -> (batch, out_channels, asset)."""
        return self.forward_last(x)
