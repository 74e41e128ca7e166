"""Covariance estimation, shrinkage and matrix square roots (pure torch, batched).

Returns have shape (batch, asset, time); covariances (batch, asset, asset).
"""

from __future__ import annotations

from typing import Any

import torch

from deepalloc._checks import check_choice

SHRINK_TARGETS = ("diagonal", "identity", "constant_correlation")


def covariance(returns: torch.Tensor, *, ddof: int = 1) -> torch.Tensor:
    """Sample covariance over the last axis: (..., asset, time) -> (..., asset, asset)."""
    _check_ddof(returns, ddof)
    _, gram = _centred_gram(returns)
    return gram / (returns.shape[-1] - ddof)


def _check_ddof(returns: torch.Tensor, ddof: int) -> None:
    n = returns.shape[-1]
    if n - ddof <= 0:
        raise ValueError(f"returns: expected more than ddof={ddof} time steps, got {n}")


def _centred_gram(returns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The centred returns (..., asset, time) and their Gram matrix ``x x'`` (..., asset,
    asset): what the covariance and the Ledoit-Wolf intensity both start from."""
    centred = returns - returns.mean(-1, keepdim=True)
    return centred, centred @ centred.transpose(-1, -2)


def shrunk_covariance(
    returns: torch.Tensor,
    target: str | None = None,
    intensity: float | str = "ledoit_wolf",
    *,
    ddof: int = 1,
) -> torch.Tensor:
    """Sample covariance, shrunk toward ``target`` when one is given.

    The same as ``shrink(covariance(returns), target, ledoit_wolf_intensity(returns,
    target))`` (or a fixed ``intensity``), computed from one centring of the returns
    and one Gram product shared by the covariance and the intensity.

    Parameters
    ----------
    returns
        Shape (batch, asset, time).
    target
        ``None`` (no shrinkage), ``"diagonal"``, ``"identity"`` or
        ``"constant_correlation"``.
    intensity
        In [0, 1], or ``"ledoit_wolf"`` for the Ledoit-Wolf intensity of each sample.
    ddof
        Delta degrees of freedom of the sample covariance.

    Returns
    -------
    torch.Tensor
        Shape (batch, asset, asset).
    """
    _check_ddof(returns, ddof)
    t = returns.shape[-1]
    centred, gram = _centred_gram(returns)
    cov = gram / (t - ddof)
    if target is None:
        return cov
    check_choice("target", target, SHRINK_TARGETS)
    if isinstance(intensity, str):
        check_choice("intensity", intensity, ("ledoit_wolf",))
        delta: float | torch.Tensor = _ledoit_wolf(centred, gram / t, target)
    else:
        delta = intensity
    return shrink(cov, target, delta)


def correlation(cov: torch.Tensor) -> torch.Tensor:
    """Correlation matrix of a covariance, same shape."""
    std = torch.diagonal(cov, dim1=-2, dim2=-1).sqrt()
    return cov / (std[..., :, None] * std[..., None, :])


def shrinkage_target(cov: torch.Tensor, target: str) -> torch.Tensor:
    """Structured target ``F`` of the same shape as ``cov``.

    ``"diagonal"``: the variances only. ``"identity"``: the average variance times the
    identity. ``"constant_correlation"``: the variances with every correlation set to
    the average sample correlation (Ledoit and Wolf, 2003).
    """
    check_choice("target", target, SHRINK_TARGETS)
    var = torch.diagonal(cov, dim1=-2, dim2=-1)
    if target == "diagonal":
        return torch.diag_embed(var)
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    if target == "identity":
        return var.mean(-1)[..., None, None] * eye
    n = cov.shape[-1]
    corr = correlation(cov)
    off = (corr.sum((-1, -2)) - n) / max(n * (n - 1), 1)
    std = var.sqrt()
    outer = std[..., :, None] * std[..., None, :]
    return off[..., None, None] * outer * (1 - eye) + torch.diag_embed(var)


def shrink(cov: torch.Tensor, target: str, intensity: float | torch.Tensor) -> torch.Tensor:
    """Linear shrinkage ``(1 - d) S + d F`` with intensity ``d`` (scalar or (batch,))."""
    d = torch.as_tensor(intensity, dtype=cov.dtype, device=cov.device)
    if d.ndim == 1:
        d = d[:, None, None]
    return (1 - d) * cov + d * shrinkage_target(cov, target)


def ledoit_wolf_intensity(returns: torch.Tensor, target: str) -> torch.Tensor:
    """Ledoit-Wolf optimal shrinkage intensity in [0, 1], shape (batch,).

    The estimator of Ledoit and Wolf (2003, 2004): ``d = clip((pi - rho) / gamma / T)``
    where ``pi`` is the summed asymptotic variance of the sample covariance entries,
    ``rho`` the part of it shared with the target and ``gamma`` the squared distance
    from the sample covariance (ddof 0) to the target.

    Parameters
    ----------
    returns
        Shape (batch, asset, time).
    target
        One of ``"diagonal"``, ``"identity"``, ``"constant_correlation"``.
    """
    check_choice("target", target, SHRINK_TARGETS)
    centred, gram = _centred_gram(returns)
    return _ledoit_wolf(centred, gram / returns.shape[-1], target)


def _ledoit_wolf(x: torch.Tensor, s: torch.Tensor, target: str) -> torch.Tensor:
    """:func:`ledoit_wolf_intensity` from the centred returns ``x`` (batch, asset, time)
    and their covariance ``s`` with ddof 0."""
    t = x.shape[-1]
    # mean_t (x_it x_jt - s_ij)^2 = mean_t x_it^2 x_jt^2 - s_ij^2: products of (asset,
    # time) matrices instead of a (batch, asset, asset, time) tensor
    x2 = x**2
    s2 = s**2
    pi_mat = x2 @ x2.transpose(-1, -2) / t - s2
    pi = pi_mat.sum((-1, -2))
    if target == "diagonal":  # the target is s's own diagonal: gamma sums the rest
        off_diagonal = 1 - torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
        gamma = (s2 * off_diagonal).sum((-1, -2))
    else:
        gamma = ((shrinkage_target(s, target) - s) ** 2).sum((-1, -2))
    diag_pi = torch.diagonal(pi_mat, dim1=-2, dim2=-1).sum(-1)
    if target == "diagonal":
        rho = diag_pi
    elif target == "identity":
        rho = torch.zeros_like(pi)
    else:
        var = torch.diagonal(s, dim1=-2, dim2=-1)
        std = var.sqrt()
        n = s.shape[-1]
        corr = s / (std[..., :, None] * std[..., None, :])
        rbar = (corr.sum((-1, -2)) - n) / max(n * (n - 1), 1)
        theta_ii = (x2 * x) @ x.transpose(-1, -2) / t - var[..., :, None] * s
        ratio = std[..., None, :] / std[..., :, None]
        term = ratio * theta_ii + ratio.transpose(-1, -2) * theta_ii.transpose(-1, -2)
        eye = torch.eye(n, dtype=s.dtype, device=s.device)
        rho = diag_pi + rbar / 2 * (term * (1 - eye)).sum((-1, -2))
    kappa = (pi - rho) / gamma.clamp_min(torch.finfo(s.dtype).tiny)
    return (kappa / t).clamp(0.0, 1.0)


def matrix_sqrt(cov: torch.Tensor, *, method: str = "eigh", jitter: float = 1e-10) -> torch.Tensor:
    """A square root ``S`` of a covariance with ``S^T S = cov``, shape (..., asset, asset).

    Parameters
    ----------
    cov
        Symmetric positive semi-definite matrices.
    method
        ``"eigh"``: the symmetric root ``V diag(sqrt(l)) V^T`` (eigenvalues clamped at 0).
        ``"cholesky"``: the upper factor ``L^T`` of ``cov = L L^T``, several times
        cheaper; a matrix that is only semi-definite (a window of constant prices, say)
        gets the symmetric root instead. Both give the same ``S^T S``, which is all
        the mean-variance allocators use.
    jitter
        Added to the diagonal, relative to the mean variance, so near-singular inputs
        (fewer time steps than assets) stay well conditioned and differentiable.
    """
    check_choice("method", method, ("eigh", "cholesky"))
    diagonal = torch.diagonal(cov, dim1=-2, dim2=-1)
    reg = cov + torch.diag_embed((jitter * diagonal.mean(-1, keepdim=True)).expand_as(diagonal))
    if method == "eigh":
        root: torch.Tensor = _SymmetricSqrt.apply(reg)
        return root
    chol, info = torch.linalg.cholesky_ex(reg)
    upper = chol.transpose(-1, -2)
    failed = info > 0
    if not bool(failed.any()):
        return upper
    fallback: torch.Tensor = _SymmetricSqrt.apply(reg[failed])
    return upper.index_put((failed,), fallback)


class _SymmetricSqrt(torch.autograd.Function):
    """``S = C^(1/2)`` by eigendecomposition, with a backward that stays finite when
    eigenvalues repeat (``eigh``'s own backward divides by their differences).

    ``S dS + dS S = dC`` gives, in the eigenbasis ``V``,
    ``dL/dC = V [(V' sym(G) V) / (s_i + s_j)] V'`` with ``s = sqrt(eigenvalues)``.
    """

    @staticmethod
    def forward(ctx: Any, cov: torch.Tensor) -> torch.Tensor:
        values, vectors = torch.linalg.eigh(cov)
        roots = values.clamp_min(0).sqrt()
        ctx.save_for_backward(roots, vectors)
        return (vectors * roots[..., None, :]) @ vectors.transpose(-1, -2)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        roots, vectors = ctx.saved_tensors
        sym = (grad + grad.transpose(-1, -2)) / 2
        inner = vectors.transpose(-1, -2) @ sym @ vectors
        denom = (roots[..., :, None] + roots[..., None, :]).clamp_min(torch.finfo(roots.dtype).tiny)
        return vectors @ (inner / denom) @ vectors.transpose(-1, -2)
