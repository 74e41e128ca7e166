"""Inputs of :class:`~deepalloc.allocators.convex.ConvexAllocator`: matched to its
parameters by position or name, shape-checked, and converted for cvxpylayers.

No cvxpy here: the layer is passed in as an object with ``inputs``, ``objective``,
``n_assets`` and (for a builder) ``shapes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

SCALAR_DEFAULTS = {"gamma": 1.0, "alpha": 0.0}
"""Inputs of the declarative objectives that may be left out."""

PER_SAMPLE = ("gamma", "alpha")
"""Declarative inputs given as scalars or one value per sample (batch,)."""


def _declared_shape(layer: Any, name: str) -> tuple[int, ...]:
    """The shape of one sample of input ``name``."""
    if layer.objective is None:
        return tuple(layer.shapes[name])
    n = layer.n_assets
    return {"mu": (n,), "previous_weights": (n,), "cov_sqrt": (n, n)}.get(name, ())


def _axes(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(["batch", *map(str, shape)]) + ")"


def parse_inputs(
    layer: Any, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> tuple[dict[str, torch.Tensor], torch.Tensor, int]:
    """Match ``args``/``kwargs`` to ``layer.inputs`` and check every shape.

    Returns
    -------
    values, like, batch
        The inputs as tensors, each with a leading batch axis (scalars and shared
        builder parameters expanded); the first tensor input (its dtype and device are
        the output's); the batch size.
    """
    names: tuple[str, ...] = layer.inputs
    if len(args) > len(names):
        raise TypeError(f"expected at most {len(names)} inputs {names}, got {len(args)}")
    given: dict[str, Any] = dict(zip(names, args, strict=False))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"expected inputs among {names}, got {key!r}")
        if key in given:
            raise TypeError(f"input {key!r} given twice")
        given[key] = value
    for key in names:
        if key not in given:
            if layer.objective is None or key not in SCALAR_DEFAULTS:
                raise TypeError(f"expected input {key!r}, got none")
            given[key] = SCALAR_DEFAULTS[key]
    tensors = [v for v in given.values() if isinstance(v, torch.Tensor)]
    like = tensors[0] if tensors else torch.zeros((), dtype=torch.float64)
    batches: dict[str, int] = {}
    for key in names:
        value = given[key]
        if not isinstance(value, torch.Tensor | float | int) or isinstance(value, bool):
            raise TypeError(f"{key}: expected a tensor or a number, got {type(value).__name__}")
        shape = _declared_shape(layer, key)
        t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
        if layer.objective is not None and key not in PER_SAMPLE and t.ndim != len(shape) + 1:
            raise ValueError(
                f"{key}: expected shape {_axes(shape)}, got {tuple(t.shape)} (a leading "
                "batch axis is required)"
            )
        if (
            not len(shape) <= t.ndim <= len(shape) + 1
            or tuple(t.shape[t.ndim - len(shape) :]) != shape
        ):
            raise ValueError(f"{key}: expected shape {_axes(shape)}, got {tuple(t.shape)}")
        if t.ndim == len(shape) + 1:
            batches[key] = t.shape[0]
        given[key] = t
    if len(set(batches.values())) > 1:
        pairs = ", ".join(f"{k}={b}" for k, b in batches.items())
        raise ValueError(f"expected the same batch size for every input, got {pairs}")
    batch = next(iter(batches.values()), 1)
    values = {key: (t if key in batches else t.expand(batch, *t.shape)) for key, t in given.items()}
    return values, like, batch


def layer_inputs(
    layer: Any, values: dict[str, torch.Tensor], batch: int
) -> tuple[list[torch.Tensor], dict[str, torch.Tensor]]:
    """The layer's parameters (float64, CPU, batched) in its order, and the inputs in
    float64 on the CPU (for the constraint checks)."""
    as64 = {k: v.to("cpu", torch.float64) for k, v in values.items()}
    for key in PER_SAMPLE:
        if layer.objective is not None and key in as64 and bool((as64[key] < 0).any()):
            bad = torch.nonzero(as64[key].detach() < 0).flatten().tolist()
            raise ValueError(
                f"{key}: expected non-negative values, got negative ones in samples {bad}"
            )
    if layer.objective is None:
        return [as64[k] for k in layer.inputs], as64
    out: list[torch.Tensor] = []
    if "mu" in as64:
        out.append(as64["mu"])
    if "cov_sqrt" in as64:
        s = as64["cov_sqrt"]
        out.append(as64["gamma"].sqrt()[:, None, None] * s if "gamma" in as64 else s)
    if "alpha" in as64:
        out.append(as64["alpha"].sqrt())
    if "previous_weights" in as64:
        out.append(as64["previous_weights"])
    return out, as64
