"""Closed-form unconstrained Markowitz portfolios (budget constraint only).

Minimum variance: ``w = C^-1 1 / (1' C^-1 1)``. Tangency (maximum Sharpe, shorting
allowed): ``w = C^-1 mu / (1' C^-1 mu)``, which is undefined when ``1' C^-1 mu`` is
near zero. ``C = S' S`` is solved by Cholesky (never a batched LU, which is unreliable
on some CPU builds).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from deepalloc._checks import check_choice, check_finite, check_ndim, check_same_size
from deepalloc._recording import Recorded
from deepalloc.errors import SolverError


class AnalyticalMarkowitz(Recorded, nn.Module):
    """Unconstrained minimum-variance or tangency portfolios in closed form.

    Called like the other mean-variance allocators, ``alloc(mu, cov_sqrt)``; the
    minimum-variance portfolio does not use ``mu``, which may then be ``None``
    (``alloc(None, cov_sqrt)`` or ``alloc(cov_sqrt=cov_sqrt)``).

    Parameters
    ----------
    kind
        ``"min_variance"`` or ``"tangency"``.
    """

    inputs = ("mu", "cov_sqrt")

    def __init__(self, kind: Literal["min_variance", "tangency"] = "min_variance"):
        super().__init__()
        check_choice("kind", kind, ("min_variance", "tangency"))
        self.kind = kind

    def forward(
        self, mu: torch.Tensor | None = None, cov_sqrt: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Solve for every sample.

        Parameters
        ----------
        mu
            Expected returns, shape (batch, asset); required for ``"tangency"``, optional
            (checked if given, not used) for ``"min_variance"``.
        cov_sqrt
            Covariance square roots ``S`` (``S' S = C``), shape (batch, asset, asset).

        Returns
        -------
        torch.Tensor
            Weights summing to one, shape (batch, asset), in ``cov_sqrt``'s dtype.

        Raises
        ------
        SolverError
            Tangency samples whose ``1' C^-1 mu`` is zero (no tangency portfolio).
        """
        if cov_sqrt is None:
            raise TypeError("cov_sqrt: expected covariance square roots (batch, asset, asset)")
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        b, n = cov_sqrt.shape[:2]
        check_same_size(["cov_sqrt rows", "cov_sqrt columns"], list(cov_sqrt.shape[1:]), "asset")
        if mu is None and self.kind == "tangency":
            raise ValueError(
                "mu: expected expected returns (batch, asset) for kind='tangency', got None"
            )
        if mu is not None:
            check_ndim("mu", mu, 2, "batch, asset")
            check_same_size(["mu", "cov_sqrt"], [mu.shape[0], b], "batch")
            check_same_size(["mu", "cov_sqrt"], [mu.shape[1], n], "asset")
            check_finite("mu", mu)
        check_finite("cov_sqrt", cov_sqrt)
        cov = cov_sqrt.transpose(1, 2) @ cov_sqrt
        chol = torch.linalg.cholesky(cov)
        if self.kind == "min_variance" or mu is None:
            rhs = torch.ones(cov.shape[:2], dtype=cov.dtype, device=cov.device)
        else:
            rhs = mu.to(cov.dtype)
        raw = torch.cholesky_solve(rhs.unsqueeze(-1), chol).squeeze(-1)
        total = raw.sum(-1, keepdim=True)
        if bool((total == 0).any()):
            bad = torch.nonzero(total.squeeze(-1) == 0).flatten().tolist()
            raise SolverError(
                f"analytical Markowitz: expected 1' C^-1 mu != 0, got 0 for samples {bad}", bad
            )
        return raw / total
