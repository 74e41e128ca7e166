"""Validators raising ``ValueError("expected …, got …")``.

Every public entry point calls these so a bad input fails where it enters, with a
message naming what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from deepalloc.errors import NonFiniteError


def check_choice(name: str, value: object, choices: Iterable[object]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    options = list(choices)
    if value not in options:
        raise ValueError(f"{name}: expected one of {options}, got {value!r}")


def check_positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """Return ``value`` as an int after checking it is a positive (or non-negative) integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    low = 0 if allow_zero else 1
    if value < low:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name}: expected {kind} integer, got {value}")
    return value


def check_feasible_cap(n_assets: int, max_weight: float) -> None:
    """Raise unless ``n_assets`` weights capped at ``max_weight`` can sum to one."""
    if max_weight * n_assets < 1 - 1e-12:
        raise ValueError(
            f"max_weight: expected max_weight x n_assets >= 1 for a feasible budget, got "
            f"{max_weight} x {n_assets} = {max_weight * n_assets:g}"
        )


def check_ndim(name: str, tensor: torch.Tensor, ndim: int, axes: str) -> None:
    """Raise unless ``tensor`` has ``ndim`` dimensions; ``axes`` names them for the message."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor ({axes}), got {type(tensor).__name__}")
    if tensor.ndim != ndim:
        raise ValueError(
            f"{name}: expected a {ndim}-d tensor ({axes}), got shape {tuple(tensor.shape)}"
        )


def check_same_size(names: Sequence[str], sizes: Sequence[int], axis: str) -> None:
    """Raise unless all ``sizes`` agree; used to compare one axis across several tensors."""
    if len(set(sizes)) > 1:
        pairs = ", ".join(f"{n}={s}" for n, s in zip(names, sizes, strict=True))
        raise ValueError(f"expected the same {axis} size, got {pairs}")


def check_finite(name: str, tensor: torch.Tensor) -> None:
    """Raise :class:`~deepalloc.errors.NonFiniteError` if ``tensor`` holds NaN or inf
    (and ``TypeError`` if it is not a floating-point tensor: an integer tensor would be
    truncated silently by the arithmetic that follows).

    The check is one reduction: a finite sum proves every element finite (a NaN or an
    infinity makes the sum NaN or infinite); only when the sum is not finite (which an
    overflow can also cause) are the elements checked and the bad samples (indices along
    the leading batch axis) located for the message.
    """
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise TypeError(f"{name}: expected a floating-point tensor, got {tensor.dtype}")
    if bool(torch.isfinite(tensor.detach().sum())) or bool(torch.isfinite(tensor).all()):
        return
    bad = ~torch.isfinite(tensor.detach())
    rows = bad.reshape(bad.shape[0], -1).any(-1) if bad.ndim > 1 else bad
    samples = torch.nonzero(rows).flatten().tolist()
    kind = "NaN" if bool(torch.isnan(tensor.detach()).any()) else "infinite values"
    raise NonFiniteError(
        f"{name}: expected finite values, got {kind} in {len(samples)} sample(s), "
        f"first at batch index {samples[0]}",
        name,
        samples,
    )
