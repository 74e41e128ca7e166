"""Losses to minimise: ``loss(weights, y) -> Tensor (batch,)``.

Losses score weights (batch, asset) against future returns y (batch, channel, asset,
horizon) and never know how the weights were made. ``base`` holds the composition
(``a + 0.5 * b``), ``portfolio`` the losses on the portfolio's returns, ``weights`` the
losses on the weights alone.
"""

from deepalloc.losses.base import Loss, Scale, Sum
from deepalloc.losses.portfolio import (
    AlphaLoss,
    CumulativeReturnLoss,
    CVaRLoss,
    DownsideRiskLoss,
    MaxDrawdownLoss,
    MeanReturnLoss,
    PortfolioLoss,
    RiskParityLoss,
    SharpeLoss,
    SortinoLoss,
    TargetReturnLoss,
    TargetVolatilityLoss,
    VaRLoss,
    VolatilityLoss,
    WorstReturnLoss,
)
from deepalloc.losses.weights import ConcentrationLoss, LargestWeightLoss, TurnoverLoss

__all__ = [
    "AlphaLoss",
    "CVaRLoss",
    "ConcentrationLoss",
    "CumulativeReturnLoss",
    "DownsideRiskLoss",
    "LargestWeightLoss",
    "Loss",
    "MaxDrawdownLoss",
    "MeanReturnLoss",
    "PortfolioLoss",
    "RiskParityLoss",
    "Scale",
    "SharpeLoss",
    "SortinoLoss",
    "Sum",
    "TargetReturnLoss",
    "TargetVolatilityLoss",
    "TurnoverLoss",
    "VaRLoss",
    "VolatilityLoss",
    "WorstReturnLoss",
]
