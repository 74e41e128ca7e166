"""Trading costs in the mean-variance layers: the portfolio held before the trade
(``previous_weights``, batch x asset) and a cost model with its rate ``kappa``.

:class:`~deepalloc.allocators.MarkowitzAllocator` and
:class:`~deepalloc.allocators.MinVarianceAllocator` built with ``trading_cost=...``
solve, per sample, with ``w_prev`` the previous weights::

    maximise    mu'w - gamma ||S w||^2 - alpha ||w||^2 - cost(w - w_prev)
    subject to  sum(w) = 1,  lower <= w <= upper

``kappa`` is a number, a per-asset vector (asset,), a per-sample vector (batch,), or a
(batch, asset) tensor a network predicts; it must be non-negative, and the layer is
differentiable in it and in ``w_prev`` (as in ``mu``, the covariance root, ``gamma`` and
``alpha``). Two cost models:

``"quadratic"``: ``cost = sum_i kappa_i (w_i - w_prev_i)^2``, a market-impact style
penalty. It is folded into the QP exactly: the diagonal of ``P`` gains ``2 kappa`` and
the linear term ``2 kappa w_prev``, so the problem is the plain mean-variance box QP
with a per-asset ridge, solved by the same code at the same speed.

``"proportional"``: ``cost = sum_i kappa_i |w_i - w_prev_i|``, a cost per unit traded
(bid-ask spread, commissions: ``kappa`` = cost rate, e.g. 10 bps = 0.001). Exact, not
smoothed. The textbook way is the buy/sell split ``w = w_prev + b - s``, ``b, s >= 0``
with cost ``kappa'(b + s)``: a 2n-variable QP whose Hessian ``[[P, -P], [-P, P]]`` is
singular (buying and selling the same asset at once leaves ``w`` unchanged), which an
active-set solver must then guard against. The solver here keeps ``n`` variables and
treats each ``w_i`` as living on one of two segments, below or above ``w_prev_i``, where
the cost is linear (``+kappa_i`` or ``-kappa_i`` in the linear term); with the segments
fixed the problem is a plain box QP, and the active-set iterations choose the segments
as they choose the bound sets (:mod:`deepalloc.allocators.qp_kinks`; the warm start
takes proximal steps whose threshold is found exactly by sorting four breakpoints per
asset). This is the split problem solved on its optimal face: at the optimum at most
one of ``b_i, s_i`` is positive when ``kappa_i > 0`` (else lowering both saves
``2 kappa_i`` per unit), i.e. ``b = (w - w_prev)+`` and ``s = (w_prev - w)+``, so both
formulations have the same optima, and the Hessian on the free coordinates is a
principal block of ``P``, positive definite. The optimality conditions, with ``g`` the
gradient of the smooth part plus the budget multiplier: ``g_i = +kappa_i`` for an asset
bought (``w_i > w_prev_i`` free), ``g_i = -kappa_i`` for one sold, and
``|g_i| <= kappa_i`` for one not traded. Hence the no-trade region: once
``kappa_i >= |g_i(w_prev)|`` for every asset, ``w = w_prev`` (to the rounding of the
budget sum) whenever ``w_prev`` is feasible. A ``w_prev`` outside ``[lower, upper]``
(drifted weights over a cap) is clipped into it for the kink: on the box the cost
differs from the clipped one by a constant, so the argmin is the same.

Gradients (implicit differentiation on the final active set, exact there): assets
traded to a free weight get ``dL/dkappa_i = -a_i`` if bought, ``+a_i`` if sold (``a``
the adjoint of ``dL/dw``) and pass no gradient to ``w_prev_i``; assets held at
``w_prev_i`` (not traded) pass their whole sensitivity to ``w_prev_i`` (``dw_i/dw_prev_i
= 1`` locally, minus what the budget multiplier takes) and none to ``kappa_i``. At a
kink (an asset exactly on the edge of its no-trade interval, ``|g_i| = kappa_i``) the
weights are not differentiable; the layer returns the one-sided derivative of the
active set it ends on, like any active-set layer at a degenerate point.

Not offered for :class:`~deepalloc.allocators.RiskBudgetingAllocator`: its weights solve
``min w'Σw/2 - sum b_i log w_i`` then normalise, so a cost on ``w - w_prev`` inside that
problem no longer yields the risk budgets it exists for, and outside it is an ordinary
Markowitz problem. Nor for the simplex maps (softmax, sparsemax, ...): they map scores
to weights in closed form and have no objective in which a cost could be traded off;
pricing turnover there belongs in the loss.
"""

from __future__ import annotations

import torch

from deepalloc._checks import check_ndim

COST_MODELS = ("quadratic", "proportional")
"""The trading-cost models of the mean-variance layers (``trading_cost=``)."""


def check_cost_model(trading_cost: str | None) -> None:
    """Raise unless ``trading_cost`` is ``None`` or one of :data:`COST_MODELS`."""
    if trading_cost is not None and trading_cost not in COST_MODELS:
        raise ValueError(
            f"trading_cost: expected None or one of {list(COST_MODELS)}, got {trading_cost!r}"
        )


def per_asset_rates(kappa: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``kappa`` as a (batch, asset) tensor in ``like``'s dtype and device.

    Accepted: a number; a per-asset vector (asset,); a per-sample vector (batch,); a
    (batch, asset), (batch, 1) or (1, asset) tensor. A 1-d tensor is ambiguous when
    batch and asset counts are equal: pass (batch, 1) or (1, asset) then. Values are
    checked (finite, non-negative) by the solver, with its other inputs.
    """
    b, n = like.shape
    t = torch.as_tensor(kappa, dtype=like.dtype, device=like.device)
    expected = f"kappa: expected a number, ({n},), ({b},) or ({b}, {n})"
    if t.ndim == 1:
        if b == n and t.shape[0] == n:
            raise ValueError(
                f"kappa: a 1-d tensor is ambiguous with {b} samples of {n} assets; expected "
                f"shape ({b}, 1) for per-sample or (1, {n}) for per-asset rates"
            )
        if t.shape[0] not in (b, n):
            raise ValueError(f"{expected}, got shape {tuple(t.shape)}")
        t = t[None, :] if t.shape[0] == n else t[:, None]
    if t.ndim > 2 or (t.ndim == 2 and (t.shape[0] not in (1, b) or t.shape[1] not in (1, n))):
        raise ValueError(f"{expected}, got shape {tuple(t.shape)}")
    return t.expand(b, n)


def previous_weights_tensor(previous: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Check ``previous_weights`` (batch, asset) against ``like`` and cast it to its dtype."""
    if previous is None:
        raise ValueError(
            "previous_weights: expected a (batch, asset) tensor for a layer with trading "
            "costs, got None"
        )
    check_ndim("previous_weights", previous, 2, "batch, asset")
    if tuple(previous.shape) != tuple(like.shape):
        raise ValueError(
            f"previous_weights: expected shape {tuple(like.shape)}, got {tuple(previous.shape)}"
        )
    return previous.to(like.dtype)
