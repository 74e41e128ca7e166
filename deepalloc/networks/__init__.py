"""Ready end-to-end allocation networks: a body of blocks plus an allocation head.

Every network maps windows x (batch, channel, asset, lookback) to weights
(batch, asset). ``heads`` holds the container and the heads that fit each kind of
allocator; ``feedforward`` the dense and convolutional designs; ``recurrent`` the
RNN/LSTM/GRU and attention designs; ``temporal`` the temporal convolution designs. Networks built from asset-wise blocks only (all but
the cross-sectional dense option) accept a different number of assets at inference
than in training. Every ready network takes ``holdings_aware=True`` to see the
portfolio held before each decision (``network(x, previous_weights=held)``), joined to
its features before the head and passed to an allocator that prices trading; the
mean-variance designs can also predict that allocator's cost rate
(``predict_kappa=True``, :class:`CostRateHead`).
"""

from deepalloc.networks.feedforward import ConvNet, DenseNet
from deepalloc.networks.heads import (
    MEAN_VARIANCE_INPUTS,
    AllocationNetwork,
    CostRateHead,
    MeanVarianceHead,
    ScoreHead,
    default_covariance,
    make_head,
)
from deepalloc.networks.recurrent import (
    AttentionNet,
    GRUNet,
    LSTMMarkowitzNet,
    LSTMNet,
    RecurrentNet,
    StackedLSTMNet,
)
from deepalloc.networks.temporal import TCNMarkowitzNet, TCNNet

__all__ = [
    "MEAN_VARIANCE_INPUTS",
    "AllocationNetwork",
    "AttentionNet",
    "ConvNet",
    "CostRateHead",
    "DenseNet",
    "GRUNet",
    "LSTMMarkowitzNet",
    "LSTMNet",
    "MeanVarianceHead",
    "RecurrentNet",
    "ScoreHead",
    "StackedLSTMNet",
    "TCNMarkowitzNet",
    "TCNNet",
    "default_covariance",
    "make_head",
]
