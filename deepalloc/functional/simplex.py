"""Maps from scores to the (capped) simplex: softmax, sparsemax, normalized tanh.

All functions are batched over a leading axis: scores (batch, asset) -> weights
(batch, asset); dtype and device follow the input. The capped variants are exact
(closed form or sort-based), not iterative.
"""

from __future__ import annotations

import numpy as np
import torch

from deepalloc._checks import check_feasible_cap


def argsort_rows(x: torch.Tensor) -> torch.Tensor:
    """Indices sorting each row of a 2-d tensor ascending (no gradient).

    On the CPU NumPy's sort is several times faster than ``torch.sort`` for the short
    rows used here, so it is used there; other devices use ``torch.argsort``.
    """
    if x.device.type == "cpu":
        return torch.from_numpy(np.argsort(x.detach().numpy(), axis=-1))
    return torch.argsort(x, dim=-1)


def box_simplex_threshold(
    z: torch.Tensor, total: torch.Tensor | float, lower: torch.Tensor, upper: torch.Tensor
) -> torch.Tensor:
    """The shift ``tau`` with ``sum(clip(z - tau, lower, upper)) = total``, exactly.

    ``g(tau) = sum_i clip(z_i - tau, l_i, u_i)`` is piecewise linear and non-increasing
    with breakpoints ``z_i - u_i`` (element i starts moving) and ``z_i - l_i`` (it stops).
    The breakpoints are sorted once and ``g`` is evaluated at all of them with cumulative
    sums, so the cost is O(n log n) per sample, with no iteration.

    Parameters
    ----------
    z
        Scores, shape (batch, n).
    total
        Required sum, scalar or (batch,); must lie in ``[sum(lower), sum(upper)]``.
    lower, upper
        Bounds, broadcastable to (batch, n), ``lower <= upper``.

    Returns
    -------
    torch.Tensor
        ``tau`` of shape (batch,), with no gradient (see :func:`project_box_simplex`).
    """
    z = z.detach()
    lower = torch.broadcast_to(lower, z.shape)
    upper = torch.broadcast_to(upper, z.shape)
    total_t = torch.as_tensor(total, dtype=z.dtype, device=z.device).expand(z.shape[0])
    points = torch.cat([z - upper, z - lower], dim=-1)
    slope_change = torch.cat([-torch.ones_like(z), torch.ones_like(z)], dim=-1)
    order = argsort_rows(points)
    points = points.gather(-1, order)
    slope_change = slope_change.gather(-1, order)
    # slope of g on the interval after each breakpoint
    slope = torch.cumsum(slope_change, dim=-1)
    steps = torch.diff(points, dim=-1)
    g = upper.sum(-1, keepdim=True) + torch.cat(
        [torch.zeros_like(points[:, :1]), torch.cumsum(slope[:, :-1] * steps, dim=-1)], dim=-1
    )
    # last breakpoint where g is still >= total; tau lies on the interval after it
    k = (g >= total_t[:, None]).sum(-1).clamp(1, points.shape[-1] - 1) - 1
    g_k = g.gather(-1, k[:, None]).squeeze(-1)
    p_k = points.gather(-1, k[:, None]).squeeze(-1)
    s_k = slope.gather(-1, k[:, None]).squeeze(-1)
    flat = s_k == 0
    safe = torch.where(flat, torch.ones_like(s_k), s_k)
    return torch.where(flat, p_k, p_k + (total_t - g_k) / safe)


def project_box_simplex(
    z: torch.Tensor,
    total: torch.Tensor | float = 1.0,
    lower: torch.Tensor | float = 0.0,
    upper: torch.Tensor | float = 1.0,
) -> torch.Tensor:
    """Euclidean projection onto ``{w : sum(w) = total, lower <= w <= upper}``, differentiable.

    The threshold is found exactly (:func:`box_simplex_threshold`), then recomputed from
    the free coordinates so autograd yields the exact Jacobian of the projection.

    Parameters
    ----------
    z
        Points, shape (batch, n).
    total, lower, upper
        Budget and bounds (scalars or broadcastable tensors).

    Returns
    -------
    torch.Tensor
        Projections, shape (batch, n).
    """
    lo = torch.as_tensor(lower, dtype=z.dtype, device=z.device)
    hi = torch.as_tensor(upper, dtype=z.dtype, device=z.device)
    tau = box_simplex_threshold(z, total, lo, hi)
    w = torch.minimum(torch.maximum(z - tau[:, None], lo), hi)
    free = (w > lo) & (w < hi)
    n_free = free.sum(-1)
    fixed_sum = torch.where(free, torch.zeros_like(w), w).sum(-1)
    total_t = torch.as_tensor(total, dtype=z.dtype, device=z.device)
    tau_diff = ((z * free).sum(-1) + fixed_sum - total_t) / n_free.clamp_min(1)
    tau_diff = torch.where(n_free > 0, tau_diff, tau.to(z.dtype))
    return torch.minimum(torch.maximum(z - tau_diff[:, None], lo), hi)


def sparsemax(z: torch.Tensor, max_weight: float = 1.0) -> torch.Tensor:
    """Sparsemax: projection of scores (batch, asset) onto the simplex capped at ``max_weight``."""
    check_feasible_cap(z.shape[-1], max_weight)
    return project_box_simplex(z, 1.0, 0.0, max_weight)


def capped_softmax(z: torch.Tensor, max_weight: float) -> torch.Tensor:
    """Softmax capped at ``max_weight``, in closed form.

    The solution of ``max_w z'w + H(w)`` over the simplex with ``w <= max_weight``
    (entropy ``H``): the ``k`` highest scores sit at the cap and the rest share
    ``1 - k * max_weight`` in softmax proportions, with the smallest ``k`` that keeps
    every uncapped weight at or below the cap. Exact, no iteration.

    Parameters
    ----------
    z
        Scores, shape (batch, asset).
    max_weight
        Cap in ``[1 / asset, 1]``.

    Returns
    -------
    torch.Tensor
        Weights, shape (batch, asset).
    """
    n = z.shape[-1]
    check_feasible_cap(n, max_weight)
    if max_weight >= 1.0:
        return torch.softmax(z, dim=-1)
    sorted_z, order = torch.sort(z.detach(), dim=-1, descending=True)
    # log of the sum of exp over the sorted tail starting at position k
    tail_lse = torch.logcumsumexp(sorted_z.flip(-1), dim=-1).flip(-1)
    k = torch.arange(n, device=z.device, dtype=z.dtype)
    remaining = (1.0 - k * max_weight).clamp_min(0)
    # candidate weight of the largest uncapped score when the first k are capped
    candidate = remaining * torch.exp(sorted_z - tail_lse)
    ok = (candidate <= max_weight * (1 + 1e-12)) & (remaining > 0)
    n_capped = torch.argmax(ok.to(torch.int8), dim=-1)  # first k that works
    capped_sorted = k[None, :] < n_capped[:, None]
    capped = torch.zeros_like(capped_sorted).scatter(-1, order, capped_sorted)
    free_logits = z.masked_fill(capped, float("-inf"))
    share = 1.0 - n_capped.to(z.dtype) * max_weight
    free_w = share[:, None] * torch.softmax(free_logits, dim=-1)
    return torch.where(capped, torch.full_like(z, max_weight), free_w)


def normalized_tanh(
    z: torch.Tensor, *, net: float | None = None, gross: float = 1.0, eps: float = 1e-12
) -> torch.Tensor:
    """Long-short weights from ``t = tanh(z)``.

    Without ``net``: ``w = gross * t / sum|t|`` (gross exposure ``gross``, net free).
    With ``net``: the long side ``t+`` and the short side ``t-`` are scaled separately
    so that ``sum(w) = net`` and ``sum|w| = gross``: longs sum to ``(gross + net) / 2``,
    shorts to ``(gross - net) / 2`` (``net=0``: dollar neutral; ``net=1, gross=1.6``:
    130/30). Requires ``gross >= |net|``. If every score has the same sign, the side
    that exists carries the net exposure alone when its sign agrees (gross ``|net|``);
    when it disagrees (every score negative with ``net > 0``, or positive with
    ``net < 0``) no side can carry the net exposure and the row is ``net / n`` in every
    asset (equal weight scaled to the net exposure, constant in the scores), so every
    row sums to ``net``.

    Parameters
    ----------
    z
        Scores, shape (batch, asset).

    Returns
    -------
    torch.Tensor
        Weights, shape (batch, asset).
    """
    t = torch.tanh(z)
    if net is None:
        return gross * t / (t.abs().sum(-1, keepdim=True) + eps)
    if gross < abs(net):
        raise ValueError(f"gross: expected gross exposure >= |net| = {abs(net)}, got {gross}")
    pos, neg = t.clamp_min(0), (-t).clamp_min(0)
    pos_sum, neg_sum = pos.sum(-1, keepdim=True), neg.sum(-1, keepdim=True)
    # with one side empty, the other carries the net exposure alone (gross = |net|)
    long_total = torch.where(
        neg_sum > 0, torch.full_like(pos_sum, (gross + net) / 2), max(net, 0.0)
    )
    short_total = torch.where(
        pos_sum > 0, torch.full_like(neg_sum, (gross - net) / 2), max(-net, 0.0)
    )
    w = long_total * pos / (pos_sum + eps) - short_total * neg / (neg_sum + eps)
    stranded = ((pos_sum == 0) & (net > 0)) | ((neg_sum == 0) & (net < 0))
    return torch.where(stranded, torch.full_like(w, net / w.shape[-1]), w)
