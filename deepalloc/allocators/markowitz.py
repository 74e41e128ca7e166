"""Mean-variance allocators on the fast batched QP solver (:mod:`deepalloc.allocators.qp`).

``MarkowitzAllocator`` solves, per sample::

    maximise    mu' w - gamma ||S w||^2 - alpha ||w||^2 [- cost(w - w_prev)]
    subject to  sum(w) = 1,  0 <= w <= max_weight          (long only, default)
                sum(w) = 1, -max_weight <= w <= max_weight  (allow_short=True)
                and sum |w| <= gross_leverage               (if given)

with ``S`` a covariance square root (``S' S = covariance``), so ``||S w||^2`` is the
portfolio variance. Every input may carry gradients; gamma and alpha are per sample.
With ``trading_cost="quadratic"`` or ``"proportional"`` the layer also takes the
weights held before the trade and a cost rate: the cost models, their exactness and
their gradients are described in :mod:`deepalloc.allocators.trading_costs`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from deepalloc._checks import check_feasible_cap, check_finite, check_ndim, check_same_size
from deepalloc._recording import Recorded
from deepalloc.allocators.qp import QPSettings, mean_variance_qp, solve_box_qp
from deepalloc.allocators.qp_solver import check_values
from deepalloc.allocators.trading_costs import (
    check_cost_model,
    per_asset_rates,
    previous_weights_tensor,
)

LEVERAGE_SLACK = 1e-9
"""Relative excess of ``sum |w|`` over ``gross_leverage`` tolerated before the leverage
cap counts as binding: the QP solves to a KKT tolerance of 1e-9, so a smaller excess is
rounding, not a violated cap."""


def _per_sample(name: str, value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a (batch,) tensor in ``like``'s dtype and device (values are checked
    by the solver, with the other inputs, in one synchronisation)."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t.expand(like.shape[0])
    if t.shape != (like.shape[0],):
        raise ValueError(
            f"{name}: expected a scalar or shape ({like.shape[0]},), got {tuple(t.shape)}"
        )
    return t


def gross_leverage_split(
    mu: torch.Tensor,
    s: torch.Tensor,
    gamma: torch.Tensor,
    alpha: torch.Tensor,
    *,
    max_weight: float,
    gross_leverage: float,
    settings: QPSettings,
) -> torch.Tensor:
    """Mean-variance weights with ``sum |w| = gross_leverage`` binding, as one box QP.

    Solves ``max mu'w - gamma ||S w||^2 - alpha ||w||^2`` subject to ``sum(w) = 1``,
    ``|w_i| <= max_weight`` and ``sum |w| = L`` by splitting ``w = u - v`` into a long
    and a short leg, ``0 <= u, v <= max_weight``, with the legs' sums fixed at
    ``(L + 1) / 2`` and ``(L - 1) / 2`` (two budget groups of
    :func:`~deepalloc.allocators.qp.solve_box_qp`; the objective is that of ``u - v``).

    Why the split is exact (only called where the leverage cap binds): every ``w``
    with ``sum |w| = L`` gives the legs ``u = max(w, 0)``, ``v = max(-w, 0)`` with the
    same objective, and every pair of legs gives ``w = u - v`` with ``sum(w) = 1``,
    ``|w_i| <= max(u_i, v_i) <= max_weight`` and ``sum |w| <= sum(u) + sum(v) = L``,
    also with the same objective. So both problems have the same optimal value, the
    split's optimum ``u - v`` is optimal for the problem with ``sum |w| <= L``, and at
    the optimum the legs are complementary (``u_i v_i = 0``, else shrinking both would
    lower the leverage at no cost). When the cap binds, the optimum of
    ``sum |w| <= L`` has ``sum |w| = L``: otherwise it would be a local, hence the
    global, optimum of the problem without the cap, whose leverage exceeds ``L``.

    Parameters
    ----------
    mu
        Expected returns, shape (batch, asset).
    s
        Covariance square roots, shape (batch, asset, asset).
    gamma, alpha
        Risk aversion and L2 penalty, shape (batch,).
    max_weight, gross_leverage
        Bound on ``|w_i|`` and the leverage ``L >= 1``.
    settings
        Solver settings.

    Returns
    -------
    torch.Tensor
        Weights ``u - v``, shape (batch, asset), differentiable in every input.
    """
    n = mu.shape[1]
    eye = torch.eye(n, dtype=mu.dtype, device=mu.device)
    p = 2 * (gamma[:, None, None] * (s.transpose(1, 2) @ s) + alpha[:, None, None] * eye)
    p_split = torch.cat([torch.cat([p, -p], 2), torch.cat([-p, p], 2)], 1)
    q_split = torch.cat([mu, -mu], 1)
    lev = gross_leverage
    legs = torch.tensor([(lev + 1) / 2, (lev - 1) / 2], dtype=mu.dtype, device=mu.device)
    uv = solve_box_qp(
        p_split,
        q_split,
        totals=legs.expand(mu.shape[0], 2),
        lower=torch.zeros_like(q_split),
        upper=torch.full_like(q_split, max_weight),
        groups=2,
        settings=settings,
    )
    return uv[:, :n] - uv[:, n:]


class MarkowitzAllocator(Recorded, nn.Module):
    """Differentiable long-only (or long-short) mean-variance portfolios.

    Parameters
    ----------
    n_assets
        Number of assets, checked against the inputs when given (``None``: any).
    max_weight
        Bound on ``|w_i|``; ``max_weight x n_assets >= 1`` is required.
    allow_short
        Allow negative weights down to ``-max_weight``.
    gross_leverage
        Cap on ``sum |w|`` (only with ``allow_short``; must be >= 1).
    trading_cost
        ``None`` (default), ``"quadratic"`` (``kappa ||w - w_prev||^2``) or
        ``"proportional"`` (``kappa ||w - w_prev||_1``); see
        :mod:`deepalloc.allocators.trading_costs`. The layer then takes
        ``previous_weights`` and ``kappa`` after its other inputs. Not with
        ``gross_leverage``.
    kappa
        Default cost rate when ``forward`` gets none: a number or a per-asset vector
        (asset,) (kept as a buffer, so it follows ``.to(device)``); the holdings-aware
        heads pass ``previous_weights`` only, so this is the rate a ready network uses.
    settings
        Solver settings (:class:`~deepalloc.allocators.qp.QPSettings`).

    Attributes
    ----------
    inputs
        Names of ``forward``'s tensor inputs, in order: ``("mu", "cov_sqrt", "gamma",
        "alpha")``, followed by ``("previous_weights", "kappa")`` with trading costs.
    """

    inputs: tuple[str, ...] = ("mu", "cov_sqrt", "gamma", "alpha")
    _cost_inputs = ("previous_weights", "kappa")

    def __init__(
        self,
        n_assets: int | None = None,
        *,
        max_weight: float = 1.0,
        allow_short: bool = False,
        gross_leverage: float | None = None,
        trading_cost: str | None = None,
        kappa: float | Sequence[float] | torch.Tensor = 0.0,
        settings: QPSettings | None = None,
    ):
        super().__init__()
        check_cost_model(trading_cost)
        if trading_cost is not None and gross_leverage is not None:
            raise ValueError(
                "trading_cost: expected None together with gross_leverage (a leverage cap "
                f"with trading costs is not supported), got {trading_cost!r}"
            )
        if max_weight <= 0:
            raise ValueError(f"max_weight: expected a positive value, got {max_weight}")
        if gross_leverage is not None and (not allow_short or gross_leverage < 1):
            raise ValueError(
                "gross_leverage: expected a value >= 1 together with allow_short=True, got "
                f"{gross_leverage} with allow_short={allow_short}"
            )
        if n_assets is not None:
            check_feasible_cap(n_assets, max_weight)
        self.n_assets = n_assets
        self.max_weight = max_weight
        self.allow_short = allow_short
        self.gross_leverage = gross_leverage
        self.trading_cost = trading_cost
        rate = torch.as_tensor(kappa).detach()
        if rate.ndim > 1 or not bool(torch.isfinite(rate).all() and (rate >= 0).all()):
            raise ValueError(
                f"kappa: expected a non-negative number or per-asset vector, got {kappa}"
            )
        self.kappa: float | torch.Tensor
        if rate.ndim:  # a buffer: it moves with the module (.to, .double)
            self.register_buffer("kappa", rate.clone(), persistent=False)
        else:
            self.kappa = float(rate)
        self.settings = settings or QPSettings()
        if trading_cost is not None:
            self.inputs = (*type(self).inputs, *self._cost_inputs)

    def forward(
        self,
        mu: torch.Tensor,
        cov_sqrt: torch.Tensor,
        gamma: float | torch.Tensor = 1.0,
        alpha: float | torch.Tensor = 0.0,
        previous_weights: torch.Tensor | None = None,
        kappa: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Solve the mean-variance problem for every sample.

        Parameters
        ----------
        mu
            Expected returns, shape (batch, asset).
        cov_sqrt
            Covariance square roots ``S``, shape (batch, asset, asset).
        gamma
            Risk aversion, scalar or (batch,), positive.
        alpha
            L2 penalty on the weights, scalar or (batch,), non-negative.
        previous_weights
            Weights held before the trade, (batch, asset); only with ``trading_cost``.
        kappa
            Cost rate: a number, (asset,), (batch,) or (batch, asset), non-negative;
            ``None`` takes the constructor's.

        Returns
        -------
        torch.Tensor
            Weights, shape (batch, asset), in ``mu``'s dtype.
        """
        check_ndim("mu", mu, 2, "batch, asset")
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        b, n = mu.shape
        check_same_size(["mu", "cov_sqrt"], [b, cov_sqrt.shape[0]], "batch")
        check_same_size(
            ["mu", "cov_sqrt rows", "cov_sqrt columns"], [n, *cov_sqrt.shape[1:]], "asset"
        )
        if self.n_assets is not None and n != self.n_assets:
            raise ValueError(f"mu: expected {self.n_assets} assets, got {n}")
        check_feasible_cap(n, self.max_weight)
        gamma_t = _per_sample("gamma", gamma, mu)
        alpha_t = _per_sample("alpha", alpha, mu)
        s = cov_sqrt.to(mu.dtype)
        cap = torch.full_like(mu, self.max_weight)
        low = -cap if self.allow_short else torch.zeros_like(mu)
        if self.trading_cost is not None:
            return self._with_costs(mu, s, gamma_t, alpha_t, low, cap, previous_weights, kappa)
        if previous_weights is not None or kappa is not None:
            raise ValueError(
                "previous_weights, kappa: expected None for a layer without trading costs "
                "(build it with trading_cost=...), got a value"
            )
        w = mean_variance_qp(mu, s, gamma_t, alpha_t, low, cap, self.settings)
        if self.gross_leverage is None:
            return w
        over = w.detach().abs().sum(-1) > self.gross_leverage * (1 + LEVERAGE_SLACK)
        if torch.compiler.is_compiling():
            # no data-dependent branch in a compiled graph: the split for every
            # sample, kept where the cap binds (the same weights, more work)
            split = self._split(mu, s, gamma_t, alpha_t)
            return torch.where(over[:, None], split, w)
        if not bool(over.any()):
            return w
        idx = torch.nonzero(over).flatten()
        return w.index_put((idx,), self._split(mu[idx], s[idx], gamma_t[idx], alpha_t[idx]))

    def _with_costs(
        self,
        mu: torch.Tensor,
        s: torch.Tensor,
        gamma: torch.Tensor,
        alpha: torch.Tensor,
        low: torch.Tensor,
        cap: torch.Tensor,
        previous_weights: torch.Tensor | None,
        kappa: float | torch.Tensor | None,
    ) -> torch.Tensor:
        """The problem with the trading cost (:mod:`~deepalloc.allocators.trading_costs`)."""
        prev = previous_weights_tensor(previous_weights, mu)
        rates = per_asset_rates(self.kappa if kappa is None else kappa, mu)
        if not torch.compiler.is_compiling():  # named here: below they are folded away
            check_values({"previous_weights": prev, "kappa": rates}, non_negative=("kappa",))
        if self.trading_cost == "quadratic":  # folded into the ridge and the linear term
            ridge = alpha[:, None] + rates
            return mean_variance_qp(mu + 2 * rates * prev, s, gamma, ridge, low, cap, self.settings)
        kink = torch.minimum(torch.maximum(prev, low), cap)
        return mean_variance_qp(mu, s, gamma, alpha, low, cap, self.settings, kink, rates)

    def _split(
        self, mu: torch.Tensor, s: torch.Tensor, gamma: torch.Tensor, alpha: torch.Tensor
    ) -> torch.Tensor:
        assert self.gross_leverage is not None
        return gross_leverage_split(
            mu,
            s,
            gamma,
            alpha,
            max_weight=self.max_weight,
            gross_leverage=self.gross_leverage,
            settings=self.settings,
        )


class MinVarianceAllocator(MarkowitzAllocator):
    """Minimum-variance portfolios on the same solver: ``min ||S w||^2 + alpha ||w||^2``
    (plus the trading cost, with ``trading_cost``: inputs ``("cov_sqrt", "alpha",
    "previous_weights", "kappa")``)."""

    inputs = ("cov_sqrt", "alpha")

    def forward(  # type: ignore[override]
        self,
        cov_sqrt: torch.Tensor,
        alpha: float | torch.Tensor = 0.0,
        previous_weights: torch.Tensor | None = None,
        kappa: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Covariance square roots (batch, asset, asset) -> weights (batch, asset)."""
        check_ndim("cov_sqrt", cov_sqrt, 3, "batch, asset, asset")
        check_finite("cov_sqrt", cov_sqrt)
        mu = torch.zeros(cov_sqrt.shape[:2], dtype=cov_sqrt.dtype, device=cov_sqrt.device)
        return super().forward(mu, cov_sqrt, 1.0, alpha, previous_weights, kappa)
