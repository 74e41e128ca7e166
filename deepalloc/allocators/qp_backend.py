"""Array operations of the batched QP solver's forward pass, on NumPy or on torch.

The forward pass (warm start and active-set iterations) runs no autograd and, at the
sizes a network meets (tens of assets), its time is mostly the fixed cost of each
array operation rather than arithmetic. On the CPU a NumPy operation on a small array
costs a third of a torch one (about 0.4 against 1.3 microseconds for an addition on
this project's machines), so there the elementwise work runs on NumPy views of the
input tensors (no copy); the linear algebra (batched products, Cholesky factorisations,
triangular solves) always runs on torch, on tensor views of the same memory, so NumPy's
own BLAS and its threads are never used. On other devices, and for dtypes NumPy lacks,
everything runs on torch. Both backends run the same code
(:mod:`deepalloc.allocators.qp_warm`, :mod:`deepalloc.allocators.qp_solver`) through
the operations below; the tests run it on both and compare.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

Array = Any
"""A NumPy array or a torch tensor, as the backend in use makes them."""

_NUMPY_DTYPES = (torch.float64, torch.float32)


class TorchOps:
    """The operations on torch tensors (any device)."""

    name = "torch"

    @staticmethod
    def asarray(t: torch.Tensor) -> Array:
        return t.detach()

    @staticmethod
    def tensor(a: Array) -> torch.Tensor:
        return a

    @staticmethod
    def copy(a: Array) -> Array:
        return a.clone()

    @staticmethod
    def to_float(mask: Array, like: Array) -> Array:
        return mask.to(like.dtype)

    @staticmethod
    def int8(mask: Array) -> Array:
        return mask.to(torch.int8)

    @staticmethod
    def nonzero(mask: Array) -> Array:
        return torch.nonzero(mask).flatten()

    @staticmethod
    def arange(n: int, like: Array) -> Array:
        return torch.arange(n, device=like.device)

    @staticmethod
    def zeros(shape: tuple[int, ...], like: Array) -> Array:
        return torch.zeros(shape, dtype=like.dtype, device=like.device)

    @staticmethod
    def concat(arrays: list[Array], axis: int) -> Array:
        return torch.cat(arrays, axis)

    @staticmethod
    def repeat(a: Array, times: int) -> Array:
        return a.repeat_interleave(times, dim=1)

    @staticmethod
    def where(condition: Array, a: Array | float, b: Array | float) -> Array:
        """``a`` where ``condition`` holds, else ``b`` (elementwise, broadcast)."""
        return torch.where(condition, a, b)

    @staticmethod
    def maximum(a: Array, b: Array) -> Array:
        """Elementwise maximum."""
        return torch.maximum(a, b)

    @staticmethod
    def minimum(a: Array, b: Array) -> Array:
        """Elementwise minimum."""
        return torch.minimum(a, b)

    @staticmethod
    def clip(x: Array, lower: Array, upper: Array) -> Array:
        return torch.clamp(x, lower, upper)

    @staticmethod
    def clamp(x: Array, low: float | None, high: float | None) -> Array:
        return torch.clamp(x, low, high)

    @staticmethod
    def cumsum(x: Array) -> Array:
        return torch.cumsum(x, -1)

    @staticmethod
    def amax(x: Array) -> Array:
        return torch.amax(x, -1)

    @staticmethod
    def amin(x: Array) -> Array:
        return torch.amin(x, -1)

    @staticmethod
    def diff(x: Array) -> Array:
        return x[:, 1:] - x[:, :-1]

    @staticmethod
    def sort_rows(x: Array) -> tuple[Array, Array]:
        """Rows sorted ascending and the flat indices ``row * width + column`` of the
        sorted entries (for :meth:`take`)."""
        values, order = torch.sort(x, dim=-1)
        width = x.shape[1]
        return values, order + torch.arange(0, x.numel(), width, device=x.device)[:, None]

    @staticmethod
    def take(a: Array, flat_index: Array) -> Array:
        """Entries of ``a`` at flat (row-major) indices."""
        return torch.take(a, flat_index)

    @staticmethod
    def scatter_flat(values: Array, flat_index: Array, shape: tuple[int, ...]) -> Array:
        """Zeros of ``shape`` with ``values`` at the flat indices (no duplicates)."""
        out = values.new_zeros(shape)
        out.view(-1)[flat_index.reshape(-1)] = values.reshape(-1)
        return out

    @staticmethod
    def free_first(free: Array) -> Array:
        """Per row, the column indices with the ``True`` ones first, each part in order."""
        return torch.sort((~free).to(torch.uint8), dim=-1, stable=True)[1]

    @staticmethod
    def diagonal(p: Array) -> Array:
        return torch.diagonal(p, dim1=-2, dim2=-1)

    @staticmethod
    def add_diagonal_(m: Array, values: Array | float) -> None:
        torch.diagonal(m, dim1=-2, dim2=-1).add_(values)

    @staticmethod
    def eye(n: int, like: Array) -> Array:
        return torch.eye(n, dtype=like.dtype, device=like.device)

    # linear algebra: (batch, n, n) matrices
    @staticmethod
    def row_times(v: Array, p: Array) -> Array:
        """``v' P`` for each sample: (batch, n), (batch, n, n) -> (batch, n)."""
        return torch.bmm(v.unsqueeze(1), p).squeeze(1)

    @staticmethod
    def row_times_plus(c: Array, v: Array, p: Array) -> Array:
        """``c + v' P`` for each sample."""
        return torch.baddbmm(c.unsqueeze(1), v.unsqueeze(1), p).squeeze(1)

    @staticmethod
    def cholesky(m: Array) -> tuple[Array, Array]:
        """Cholesky factors (lower) and LAPACK's info (0 where it succeeded)."""
        return torch.linalg.cholesky_ex(m)

    @staticmethod
    def cho_solve(chol: Array, rhs: Array) -> Array:
        """Solve ``L L' X = B`` by two triangular solves (several times faster on the
        CPU than ``torch.cholesky_solve`` for small batched systems)."""
        half = torch.linalg.solve_triangular(chol, rhs, upper=False)
        return torch.linalg.solve_triangular(chol.transpose(1, 2), half, upper=True)

    @staticmethod
    def solve(a: Array, b: Array) -> Array:
        return torch.linalg.solve(a, b)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


class NumpyOps:
    """The operations on NumPy views of CPU tensors; linear algebra on torch views."""

    name = "numpy"

    @staticmethod
    def asarray(t: torch.Tensor) -> Array:
        return t.detach().numpy()

    @staticmethod
    def tensor(a: Array) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a))

    @staticmethod
    def copy(a: Array) -> Array:
        return a.copy()

    @staticmethod
    def to_float(mask: Array, like: Array) -> Array:
        return mask.astype(like.dtype)

    @staticmethod
    def int8(mask: Array) -> Array:
        return mask.astype(np.int8)

    @staticmethod
    def nonzero(mask: Array) -> Array:
        return np.flatnonzero(mask)

    @staticmethod
    def arange(n: int, like: Array) -> Array:
        return np.arange(n)

    @staticmethod
    def zeros(shape: tuple[int, ...], like: Array) -> Array:
        return np.zeros(shape, dtype=like.dtype)

    @staticmethod
    def concat(arrays: list[Array], axis: int) -> Array:
        return np.concatenate(arrays, axis)

    @staticmethod
    def repeat(a: Array, times: int) -> Array:
        return np.repeat(a, times, axis=1)

    @staticmethod
    def where(condition: Array, a: Array | float, b: Array | float) -> Array:
        """``a`` where ``condition`` holds, else ``b`` (elementwise, broadcast)."""
        return np.where(condition, a, b)

    @staticmethod
    def maximum(a: Array, b: Array) -> Array:
        """Elementwise maximum."""
        return np.maximum(a, b)

    @staticmethod
    def minimum(a: Array, b: Array) -> Array:
        """Elementwise minimum."""
        return np.minimum(a, b)

    @staticmethod
    def clip(x: Array, lower: Array, upper: Array) -> Array:
        out = np.maximum(x, lower)
        return np.minimum(out, upper, out=out)

    @staticmethod
    def clamp(x: Array, low: float | None, high: float | None) -> Array:
        if low is not None:
            x = np.maximum(x, low)
        return x if high is None else np.minimum(x, high)

    @staticmethod
    def cumsum(x: Array) -> Array:
        return np.cumsum(x, -1)

    @staticmethod
    def amax(x: Array) -> Array:
        return x.max(-1)

    @staticmethod
    def amin(x: Array) -> Array:
        return x.min(-1)

    @staticmethod
    def diff(x: Array) -> Array:
        return x[:, 1:] - x[:, :-1]

    @staticmethod
    def sort_rows(x: Array) -> tuple[Array, Array]:
        """See :meth:`TorchOps.sort_rows`."""
        order = np.argsort(x, axis=-1)
        order += np.arange(0, x.size, x.shape[1])[:, None]
        return x.take(order), order

    @staticmethod
    def take(a: Array, flat_index: Array) -> Array:
        return a.take(flat_index)

    @staticmethod
    def scatter_flat(values: Array, flat_index: Array, shape: tuple[int, ...]) -> Array:
        out = np.zeros(shape, dtype=values.dtype)
        out.reshape(-1)[flat_index] = values
        return out

    @staticmethod
    def free_first(free: Array) -> Array:
        return np.argsort(~free, axis=-1, kind="stable")

    @staticmethod
    def diagonal(p: Array) -> Array:
        return np.diagonal(p, axis1=-2, axis2=-1)

    @staticmethod
    def add_diagonal_(m: Array, values: Array | float) -> None:
        n = m.shape[-1]
        m.reshape(m.shape[0], -1)[:, :: n + 1] += values

    @staticmethod
    def eye(n: int, like: Array) -> Array:
        return np.eye(n, dtype=like.dtype)

    @staticmethod
    def row_times(v: Array, p: Array) -> Array:
        return torch.bmm(_t(v)[:, None], _t(p)).numpy()[:, 0]

    @staticmethod
    def row_times_plus(c: Array, v: Array, p: Array) -> Array:
        return torch.baddbmm(_t(c)[:, None], _t(v)[:, None], _t(p)).numpy()[:, 0]

    @staticmethod
    def cholesky(m: Array) -> tuple[Array, Array]:
        chol, info = torch.linalg.cholesky_ex(_t(m))
        return chol.numpy(), info.numpy()

    @staticmethod
    def cho_solve(chol: Array, rhs: Array) -> Array:
        return TorchOps.cho_solve(_t(chol), _t(rhs)).numpy()

    @staticmethod
    def solve(a: Array, b: Array) -> Array:
        return torch.linalg.solve(_t(a), _t(b)).numpy()


Ops = Any
"""One of the two backends (:class:`TorchOps` or :class:`NumpyOps`), used as a namespace."""


class Limits(NamedTuple):
    """Machine limits of a floating dtype, as Python floats."""

    eps: float
    tiny: float


def finfo(a: Array) -> Limits:
    """Machine limits of ``a``'s floating dtype."""
    info = torch.finfo(a.dtype) if isinstance(a.dtype, torch.dtype) else np.finfo(a.dtype)
    return Limits(float(info.eps), float(info.tiny))


def ops_for(t: torch.Tensor | np.ndarray) -> Ops:
    """The backend for arrays like ``t``: NumPy for NumPy arrays, torch for tensors."""
    return NumpyOps if isinstance(t, np.ndarray) else TorchOps


def backend(t: torch.Tensor, allow_numpy: bool = True) -> Ops:
    """The backend for a solve on tensors like ``t``: NumPy for float32/float64 CPU
    tensors (unless ``allow_numpy`` is false), torch otherwise."""
    if allow_numpy and t.device.type == "cpu" and t.dtype in _NUMPY_DTYPES:
        return NumpyOps
    return TorchOps
