"""A reproduction of Costa & Iyengar (2023), "Distributionally robust end-to-end
portfolio construction" (Quantitative Finance 23(10)): the nominal end-to-end system.

- Data: weekly returns of 20 US stocks and 8 factors, 2000-01-07 to 2021-10-01 (the
  paper's cached data, copied into ``examples/data``); 60/40 train/test split, so the
  out-of-sample period is 2013-01-25 to 2021-10-01.
- Prediction layer: a linear factor model ``y_hat = W' f_t + b`` for next week's asset
  returns (initialised by least squares on the training period).
- Decision layer: nominal mean-variance over a 104-week estimation window, the risk
  being the sample covariance of the model's prediction errors in that window:
  ``max_w y_hat'w - gamma w' Cov(eps) w`` with ``w >= 0``, ``sum(w) = 1`` and a learned
  risk aversion ``gamma`` (``MarkowitzAllocator`` with ``S = Cov(eps)^(1/2)``).
- Training loss: minus the Sharpe ratio of the next 13 weeks plus 0.5 x the squared
  prediction error of next week.
- Metrics as in the paper: geometric annual return, annualised volatility, and their
  ratio as the Sharpe ratio (weekly rebalancing, no costs).

The equal-weight row reproduces the paper's (15.6%, 14.9%, 1.05); the end-to-end row
is reported next to the paper's nominal row (23.4%, 18.8%, 1.24).

Run: python -m examples.costa_iyengar
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from deepalloc import metrics
from deepalloc.allocators import MarkowitzAllocator
from deepalloc.backtest import backtest
from deepalloc.data import WindowLoader, make_windows
from deepalloc.functional.risk import matrix_sqrt
from deepalloc.losses import SharpeLoss
from deepalloc.train import predict

DATA = Path(__file__).resolve().parent / "data"
WINDOW = 104
HORIZON = 13
PAPER = {
    "equal_weight": (0.156, 0.149, 1.05),
    "nominal_e2e": (0.234, 0.188, 1.24),
}


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Weekly asset returns (1135 x 20) and factor returns (1135 x 8)."""
    assets = pd.read_csv(
        DATA / "e2edro_asset_returns_weekly.csv.gz", index_col="date", parse_dates=True
    )
    factors = pd.read_csv(
        DATA / "e2edro_factor_returns_weekly.csv.gz", index_col="date", parse_dates=True
    )
    return assets, factors


class NominalE2E(nn.Module):
    """Linear factor predictions -> error covariance -> mean-variance weights.

    Input windows x (batch, 1 + n_factors, asset, WINDOW + 1): channel 0 holds asset
    returns, channels 1.. hold the factors (the same for every asset).
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, gamma: float = 10.0):
        super().__init__()
        self.weight = nn.Parameter(weight.clone())  # (factor, asset)
        self.bias = nn.Parameter(bias.clone())  # (asset,)
        self.log_gamma = nn.Parameter(torch.tensor(math.log(gamma), dtype=weight.dtype))
        self.allocator = MarkowitzAllocator()
        self.last_prediction: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        returns = x[:, 0]  # (batch, asset, time)
        factors = x[:, 1:, 0]  # (batch, factor, time)
        fitted = torch.einsum("bft,fa->bat", factors[..., :-1], self.weight) + self.bias[:, None]
        errors = returns[..., 1:] - fitted  # errors of one-week-ahead predictions in the window
        cov = errors @ errors.transpose(1, 2) / errors.shape[-1]
        prediction = factors[..., -1] @ self.weight + self.bias
        self.last_prediction = prediction
        gamma = self.log_gamma.exp().expand(x.shape[0])
        return self.allocator(prediction, matrix_sqrt(cov), gamma, 0.0)


def _least_squares(
    assets: pd.DataFrame, factors: pd.DataFrame, end: pd.Timestamp
) -> tuple[torch.Tensor, torch.Tensor]:
    """OLS of next week's returns on this week's factors, over dates before ``end``."""
    f = factors.loc[: end - pd.Timedelta(days=1)].to_numpy()[:-1]
    y = assets.loc[: end - pd.Timedelta(days=1)].to_numpy()[1:]
    design = np.hstack([f, np.ones((len(f), 1))])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return torch.tensor(coef[:-1]), torch.tensor(coef[-1])


def paper_metrics(returns: pd.Series) -> tuple[float, float, float]:
    """(geometric annual return, annualised volatility, their ratio), weekly data."""
    annual = metrics.cagr(returns, periods_per_year=52)
    vol = metrics.annualized_volatility(returns, periods_per_year=52)
    return annual, vol, annual / vol


def main(epochs: int = 20, lr: float = 1e-3, seed: int = 0) -> pd.DataFrame:
    """Train the nominal system on the first 60% and evaluate on the last 40%.

    Returns a table with our equal-weight and end-to-end rows next to the paper's.
    """
    assets, factors = load()
    test_start = assets.index[int(0.6 * len(assets))]  # 2013-01-25
    channels = {
        "returns": assets,
        **{
            f"f{k}": pd.DataFrame(
                np.repeat(factors[[c]].to_numpy(), assets.shape[1], axis=1),
                index=assets.index,
                columns=assets.columns,
            )
            for k, c in enumerate(factors.columns)
        },
    }
    windows = make_windows(
        channels, lookback=WINDOW + 1, horizon=HORIZON, targets=assets, dtype=torch.float64
    )
    target_end = windows.timestamps + pd.Timedelta(weeks=HORIZON)
    train = np.flatnonzero(
        target_end < test_start
    )  # every training target precedes the test period

    torch.manual_seed(seed)
    weight, bias = _least_squares(assets, factors, test_start)
    model = NominalE2E(weight, bias)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sharpe = SharpeLoss(rebalance=True)
    loader = WindowLoader(windows, train, batch_size=64, shuffle=True, generator=seed)
    for _ in range(epochs):
        for x, y in loader:
            w = model(x)
            assert model.last_prediction is not None
            mse = ((model.last_prediction - y[:, 0, :, 0]) ** 2).mean(-1)
            loss = (sharpe(w, y) + 0.5 * mse).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    inputs = make_windows(channels, lookback=WINDOW + 1, horizon=0, dtype=torch.float64)
    decisions = inputs.timestamps[
        (inputs.timestamps >= assets.index[assets.index < test_start][-1])
        & (inputs.timestamps < assets.index[-1])
    ]
    e2e = predict(model, inputs).loc[decisions]
    ew = pd.DataFrame(1.0 / assets.shape[1], index=decisions, columns=assets.columns)
    rows = {}
    for name, weights in (("equal_weight", ew), ("nominal_e2e", e2e)):
        result = backtest(weights, assets)
        oos = result.returns.loc[test_start:]
        ours = paper_metrics(oos)
        rows[name] = {
            "annual_return": ours[0],
            "volatility": ours[1],
            "sharpe": ours[2],
            "paper_annual_return": PAPER[name][0],
            "paper_volatility": PAPER[name][1],
            "paper_sharpe": PAPER[name][2],
            "first_date": oos.index[0],
            "last_date": oos.index[-1],
        }
    return pd.DataFrame(rows).T


if __name__ == "__main__":
    print(main().to_string())
