"""Network blocks over windows (batch, channel, asset, lookback)."""

from deepalloc.layers.attention import CrossAssetAttention
from deepalloc.layers.conv import AssetConv
from deepalloc.layers.covariance import CovarianceEstimator
from deepalloc.layers.dense import MLP, Dense, Maxout
from deepalloc.layers.normalization import InstanceNorm
from deepalloc.layers.pooling import TimePool
from deepalloc.layers.rnn import AssetRNN
from deepalloc.layers.temporal import CausalConv, LastStepTCN, TemporalBlock, TemporalConvNet

__all__ = [
    "MLP",
    "AssetConv",
    "AssetRNN",
    "CausalConv",
    "CovarianceEstimator",
    "CrossAssetAttention",
    "Dense",
    "InstanceNorm",
    "LastStepTCN",
    "Maxout",
    "TemporalBlock",
    "TemporalConvNet",
    "TimePool",
]
