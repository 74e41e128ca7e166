"""Search spaces: what each hyper-parameter may take, as small objects Ray Tune samples.

A space maps parameter names (``"lr"``, ``"hidden_size"``, ``"lookback"``, ...) to a
domain: :func:`choice`, :func:`uniform`, :func:`loguniform` or :func:`randint`. The
objects are plain data (they pickle, compare and print); :func:`to_ray` turns a space
into Ray Tune's ``param_space`` when a search starts, so this module does not import
Ray. In a TOML file a domain is a one-key table, ``{ loguniform = [1e-4, 1e-2] }``
(see :func:`parse_domain`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Choice:
    """One of ``values``, each equally likely."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("choice: expected at least one value, got none")

    def to_ray(self) -> Any:
        from ray import tune

        return tune.choice(list(self.values))

    def example(self) -> Any:
        """A value of the domain (the first choice)."""
        return self.values[0]

    def extremes(self) -> tuple[Any, ...]:
        """The values whose validity decides the whole domain's."""
        return self.values

    def __str__(self) -> str:
        return f"choice {list(self.values)}"


@dataclass(frozen=True)
class _Interval:
    low: float
    high: float

    def __post_init__(self) -> None:
        name = type(self).__name__.lower()
        if not (_is_number(self.low) and _is_number(self.high)) or self.low >= self.high:
            raise ValueError(
                f"{name}: expected finite numbers low < high, got [{self.low!r}, {self.high!r}]"
            )

    def extremes(self) -> tuple[Any, ...]:
        return (self.low, self.high)

    def __str__(self) -> str:
        return f"{type(self).__name__.lower()} [{self.low:g}, {self.high:g}]"


@dataclass(frozen=True)
class Uniform(_Interval):
    """A float uniform on ``[low, high]``."""

    def to_ray(self) -> Any:
        from ray import tune

        return tune.uniform(float(self.low), float(self.high))

    def example(self) -> float:
        return (self.low + self.high) / 2


@dataclass(frozen=True)
class LogUniform(_Interval):
    """A float whose logarithm is uniform on ``[log low, log high]`` (``low > 0``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.low <= 0:
            raise ValueError(f"loguniform: expected low > 0, got {self.low!r}")

    def to_ray(self) -> Any:
        from ray import tune

        return tune.loguniform(float(self.low), float(self.high))

    def example(self) -> float:
        return math.sqrt(self.low * self.high)


@dataclass(frozen=True)
class RandInt(_Interval):
    """An integer uniform from ``low`` to ``high``, both included."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (self.low, self.high)):
            raise ValueError(f"randint: expected integers, got [{self.low!r}, {self.high!r}]")
        super().__post_init__()

    def to_ray(self) -> Any:
        from ray import tune

        return tune.randint(self.low, self.high + 1)  # Ray's upper bound is excluded

    def example(self) -> int:
        return self.low


Domain = Choice | Uniform | LogUniform | RandInt
Space = Mapping[str, Domain]


def choice(values: Sequence[Any]) -> Choice:
    """One of ``values``, each equally likely."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"choice: expected a list of values, got {values!r}")
    return Choice(tuple(values))


def uniform(low: float, high: float) -> Uniform:
    """A float uniform on ``[low, high]``."""
    return Uniform(low, high)


def loguniform(low: float, high: float) -> LogUniform:
    """A float log-uniform on ``[low, high]`` (learning rates, penalties)."""
    return LogUniform(low, high)


def randint(low: int, high: int) -> RandInt:
    """An integer uniform from ``low`` to ``high``, both included."""
    return RandInt(low, high)


KINDS: dict[str, Callable[..., Domain]] = {
    "choice": choice,
    "uniform": uniform,
    "loguniform": loguniform,
    "randint": randint,
}
"""The domains a TOML file may name."""


def parse_domain(spec: Any) -> Domain:
    """A domain from its TOML form: ``{ choice = [16, 32] }``, ``{ uniform = [0.1, 0.5] }``,
    ``{ loguniform = [1e-4, 1e-2] }`` or ``{ randint = [1, 4] }``.

    Raises
    ------
    ValueError
        Naming what was expected when ``spec`` is not one of those.
    """
    expected = (
        "a table with one of "
        + ", ".join(f"{k} = [...]" for k in KINDS)
        + " (for example { loguniform = [1e-4, 1e-2] })"
    )
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"expected {expected}, got {spec!r}")
    ((kind, args),) = spec.items()
    if kind not in KINDS:
        raise ValueError(f"expected {expected}, got {kind!r}")
    if not isinstance(args, list) or not args:
        raise ValueError(f"{kind}: expected a non-empty list, got {args!r}")
    if kind == "choice":
        return choice(args)
    if len(args) != 2:
        raise ValueError(f"{kind}: expected [low, high], got {args!r}")
    return KINDS[kind](*args)


def check_space(space: Any) -> dict[str, Domain]:
    """``space`` as a dict, checked: names are strings, values domains, at least one."""
    if not isinstance(space, Mapping) or not space:
        raise ValueError(f"space: expected a non-empty mapping of names to domains, got {space!r}")
    out: dict[str, Domain] = {}
    for name, domain in space.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"space: expected parameter names as strings, got {name!r}")
        if not isinstance(domain, Choice | Uniform | LogUniform | RandInt):
            raise TypeError(
                f"space[{name!r}]: expected choice(...), uniform(...), loguniform(...) or "
                f"randint(...), got {domain!r}"
            )
        out[name] = domain
    return out


def to_ray(space: Space) -> dict[str, Any]:
    """Ray Tune's ``param_space`` for ``space`` (imports Ray)."""
    return {name: domain.to_ray() for name, domain in space.items()}


def example(space: Space) -> dict[str, Any]:
    """One configuration of the space (for checks before a search starts)."""
    return {name: domain.example() for name, domain in space.items()}


__all__ = [
    "KINDS",
    "Choice",
    "Domain",
    "LogUniform",
    "RandInt",
    "Space",
    "Uniform",
    "check_space",
    "choice",
    "example",
    "loguniform",
    "parse_domain",
    "randint",
    "to_ray",
    "uniform",
]
