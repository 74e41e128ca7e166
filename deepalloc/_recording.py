"""Constructors that remember their arguments, so that a model can be rebuilt from a file.

Classes deriving from :class:`Recorded` (ready networks, allocators, baselines,
covariance estimators, scalers) keep the arguments of the outermost constructor call in
``_init_arguments`` and are entered, by their qualified name, in :data:`REGISTRY`. A
model file (:mod:`deepalloc.models`) stores a network as its class name and these
arguments (as JSON) beside its weights; loading rebuilds it by calling the registered
class, never by unpickling code, and refuses a class that is not registered.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

REGISTRY: dict[str, type] = {}
"""Qualified class name -> class, for every class deriving from :class:`Recorded`."""


def qualified_name(cls: type) -> str:
    """``module.QualifiedName`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _recording(init: Callable[..., None]) -> Callable[..., None]:
    signature = inspect.signature(init)

    @functools.wraps(init)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
        if "_init_arguments" not in self.__dict__:  # the outermost constructor records
            bound = signature.bind(self, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            object.__setattr__(self, "_init_arguments", arguments)
            object.__setattr__(self, "_init_signature", signature)
        init(self, *args, **kwargs)

    wrapped._records_arguments = True  # type: ignore[attr-defined]
    return wrapped


class Recorded:
    """Mixin: remember the constructor's arguments; register the class by name."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        REGISTRY[qualified_name(cls)] = cls
        init = cls.__init__  # its own, or the one it inherits
        if not getattr(init, "_records_arguments", False):
            cls.__init__ = _recording(init)  # type: ignore[method-assign]


def constructor_call(obj: Any) -> tuple[list[Any], dict[str, Any]]:
    """The positional and keyword arguments that rebuild ``obj`` (a :class:`Recorded`)."""
    arguments: dict[str, Any] = obj.__dict__["_init_arguments"]
    signature: inspect.Signature = obj.__dict__["_init_signature"]
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    star = any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    positional = (inspect.Parameter.POSITIONAL_ONLY,) + (
        (inspect.Parameter.POSITIONAL_OR_KEYWORD,) if star else ()
    )
    for name, value in arguments.items():
        kind = signature.parameters[name].kind
        if kind in positional:
            args.append(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            args.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[name] = value
    return args, kwargs


def is_recorded(obj: object) -> bool:
    """Whether ``obj`` was built by a :class:`Recorded` constructor."""
    return isinstance(obj, Recorded) and "_init_arguments" in getattr(obj, "__dict__", {})
