"""Closed-form unconstrained Markowitz portfolios (budget constraint only).

Minimum variance: ``w = C^-1 1 / (1' C^-1 1)``. Tangency (maximum Sharpe, shorting
allowed): ``w = C^-1 mu / (1' C^-1 mu)``, which is undefined when ``1' C^-1 mu`` is
near zero. ``C = S' S`` is solved by Cholesky (never a batched LU, which is unreliable
on some CPU builds).
"""

from __future__ import annotations

import torch
from torch import nn

from deepalloc._checks import check_choice, check_ndim


class AnalyticalMarkowitz(nn.Module):
    """Unconstrained minimum-variance or tangency portfolios in closed form.

    Parameters
    ----------
    kind
        ``"min_variance"`` or ``"tangency"``.
    """

    inputs = ("cov_sqrt", "mu")

    def __init__(self, kind: str = "min_variance"):
        super().__init__()
        check_choice("kind", kind, ("min_variance", "tangency"))
        self.kind = kind

    def forward(self, cov_sqrt: torch.Tensor, mu: torch.Tensor | None = None) -> torch.Tensor:
        """Covariance square roots (batch, asset, asset) [and mu (batch, asset)] -> weights (batch, asset)."""
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        cov = cov_sqrt.transpose(1, 2) @ cov_sqrt
        chol = torch.linalg.cholesky(cov)
        if self.kind == "min_variance":
            rhs = torch.ones(cov.shape[:2], dtype=cov.dtype, device=cov.device)
        else:
            if mu is None:
                raise ValueError(
                    "mu: expected expected returns (batch, asset) for kind='tangency', got None"
                )
            check_ndim("mu", mu, 2, "batch, asset")
            rhs = mu
        raw = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        return raw / raw.sum(-1, keepdim=True)
