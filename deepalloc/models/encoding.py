"""Constructor arguments as JSON plus tensors: what a model file stores of a network.

A value is encoded as itself when JSON can hold it (None, bools, numbers, strings,
lists, dicts with string keys), as ``{"__tuple__": [...]}`` for a tuple, as
``{"__float__": "inf"}`` for a non-finite float, as ``{"__tensor__": key}`` for a
tensor (stored beside the JSON), as ``{"__object__": name, "args": [...], "kwargs":
{...}}`` for an object built by a :class:`~deepalloc._recording.Recorded` constructor,
and as ``{"__dataclass__": name, "fields": {...}}`` for an allowed settings dataclass.
Decoding builds objects only from :data:`~deepalloc._recording.REGISTRY` and
:data:`DATACLASSES`: a name from anywhere else is refused, never imported.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from typing import Any

import torch

from deepalloc._recording import REGISTRY, constructor_call, is_recorded, qualified_name
from deepalloc.allocators.qp import QPSettings

DATACLASSES: dict[str, type] = {qualified_name(QPSettings): QPSettings}
"""Settings dataclasses a model file may hold."""


class ModelFileError(ValueError):
    """A model file cannot be written or read safely; the message says what and why."""


def encode(value: Any, tensors: dict[str, torch.Tensor], where: str) -> Any:
    """JSON-able form of a constructor argument; tensors go into ``tensors``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [encode(v, tensors, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: encode(v, tensors, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        key = f"argument:{where}"
        tensors[key] = value.detach().cpu().clone()
        return {"__tensor__": key}
    if is_recorded(value):
        args, kwargs = constructor_call(value)
        return {
            "__object__": qualified_name(type(value)),
            "args": [encode(v, tensors, f"{where}.args[{i}]") for i, v in enumerate(args)],
            "kwargs": {k: encode(v, tensors, f"{where}.{k}") for k, v in kwargs.items()},
        }
    if dataclasses.is_dataclass(value) and qualified_name(type(value)) in DATACLASSES:
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {
            "__dataclass__": qualified_name(type(value)),
            "fields": {k: encode(v, tensors, f"{where}.{k}") for k, v in fields.items()},
        }
    raise ModelFileError(
        f"{where}: expected constructor arguments that a model file can hold (numbers, "
        "strings, tensors, lists, deepalloc objects), got "
        f"{type(value).__module__}.{type(value).__qualname__}"
    )


def decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`encode`: builds registered objects, never imports code."""
    if isinstance(value, list):
        return [decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(decode(v, tensors) for v in value["__tuple__"])
    if "__float__" in value:
        return float(value["__float__"])
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__object__" in value:
        cls = _registered(value["__object__"], REGISTRY)
        args = [decode(v, tensors) for v in value["args"]]
        return cls(*args, **{k: decode(v, tensors) for k, v in value["kwargs"].items()})
    if "__dataclass__" in value:
        cls = _registered(value["__dataclass__"], DATACLASSES)
        return cls(**{k: decode(v, tensors) for k, v in value["fields"].items()})
    return {k: decode(v, tensors) for k, v in value.items()}


KNOWN_MODULES = (
    "deepalloc.networks",
    "deepalloc.allocators",
    "deepalloc.allocators.convex",
    "deepalloc.allocators.robust",
    "deepalloc.baselines",
    "deepalloc.layers",
    "deepalloc.data.scaling",
)
"""deepalloc's own modules whose classes a model file may name (imported on demand)."""


def _registered(name: str, table: dict[str, type]) -> type:
    cls = table.get(name)
    module = name.rpartition(".")[0]
    while cls is None and module:
        if module in KNOWN_MODULES or any(module.startswith(m + ".") for m in KNOWN_MODULES):
            importlib.import_module(module)
            cls = table.get(name)
            break
        module = module.rpartition(".")[0]
    if cls is None:
        raise ModelFileError(
            f"model file: expected a class deepalloc knows, got {name!r} (a class of your "
            "own is known once the module defining it is imported and it derives from a "
            "deepalloc network, allocator, baseline or layer class)"
        )
    return cls
