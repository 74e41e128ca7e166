"""The loss base class and its composition: ``Sum`` and ``Scale``.

Every loss is callable on ``(weights, y)`` and returns one value per sample, to be
minimised. Losses compose into real objects whose repr reads like the expression and
evaluates back to an equal loss::

    loss = SharpeLoss() + 0.5 * MaxDrawdownLoss()
    loss                      # SharpeLoss() + 0.5 * MaxDrawdownLoss()
    (loss - VolatilityLoss()) / 3
"""

from __future__ import annotations

import inspect

import torch

from deepalloc._checks import check_finite, check_ndim, check_same_size


class Loss:
    """Base of every loss: callable on ``(weights, y)``, returning one value per sample.

    Subclasses implement :meth:`forward` and take their settings as keyword-only
    arguments stored under the same names, which gives them a repr that round-trips.
    """

    def __call__(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Score weights (batch, asset) against y (batch, channel, asset, horizon) -> (batch,).

        Raises
        ------
        deepalloc.errors.NonFiniteError
            If ``weights`` or ``y`` hold NaN or an infinity (naming the first sample).
        """
        check_ndim("weights", weights, 2, "batch, asset")
        check_ndim("y", y, 4, "batch, channel, asset, horizon")
        check_same_size(["weights", "y"], [weights.shape[0], y.shape[0]], "batch")
        check_same_size(["weights", "y"], [weights.shape[1], y.shape[2]], "asset")
        check_finite("weights", weights)
        check_finite("y", y)
        return self.forward(weights, y)

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-sample loss on validated inputs; subclasses implement it."""
        raise NotImplementedError

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        """Loss from portfolio simple returns (batch, time) -> (batch,), for losses that
        depend on the portfolio's returns only (sequential training scores a whole
        after-cost path this way)."""
        raise TypeError(
            f"{type(self).__name__}: expected a loss on portfolio returns for a return path, "
            "got one that needs the weights or the asset returns"
        )

    def return_settings(self) -> set[tuple[int | str | None, str, bool]]:
        """The ``(returns_channel, kind, rebalance)`` settings used by the leaves of this loss."""
        return set()

    def leaves(self) -> list[Loss]:
        """The losses this one is made of (itself for a single loss)."""
        return [self]

    def __add__(self, other: object) -> Loss:
        if isinstance(other, int | float) and other == 0:
            return self
        if not isinstance(other, Loss):
            return NotImplemented
        return Sum(self, other)

    def __radd__(self, other: object) -> Loss:
        return self.__add__(other)  # lets sum([...]) start from 0

    def __sub__(self, other: object) -> Loss:
        if not isinstance(other, Loss):
            return NotImplemented
        return Sum(self, Scale(other, -1.0))

    def __neg__(self) -> Loss:
        return Scale(self, -1.0)

    def __mul__(self, factor: object) -> Loss:
        if isinstance(factor, bool) or not isinstance(factor, int | float):
            return NotImplemented
        return Scale(self, float(factor))

    __rmul__ = __mul__

    def __truediv__(self, divisor: object) -> Loss:
        if isinstance(divisor, bool) or not isinstance(divisor, int | float):
            return NotImplemented
        if divisor == 0:
            raise ZeroDivisionError("a loss divided by zero")
        return Scale(self, 1.0 / float(divisor), divisor=float(divisor))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = vars(self), vars(other)
        if mine.keys() != theirs.keys():
            return False
        for key, value in mine.items():
            other_value = theirs[key]
            if isinstance(value, torch.Tensor) or isinstance(other_value, torch.Tensor):
                if not (
                    isinstance(value, torch.Tensor)
                    and isinstance(other_value, torch.Tensor)
                    and torch.equal(value, other_value)
                ):
                    return False
            elif value != other_value:
                return False
        return True

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        """``Name(setting=value, ...)`` with every setting that differs from its default."""
        params = inspect.signature(type(self).__init__).parameters
        shown = []
        for name, param in params.items():
            if name == "self":
                continue
            value = getattr(self, name)
            default = param.default
            if isinstance(value, torch.Tensor):
                shown.append(f"{name}=torch.tensor({value.tolist()!r}, dtype={value.dtype})")
            elif value is not default and (default is None or value != default):
                shown.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _format_number(x: float) -> str:
    return repr(float(x)) if float(x) != int(x) else f"{x:g}"


class Sum(Loss):
    """Sum of losses; ``a + b`` and ``a - b`` build it."""

    terms: list[Loss]

    def __init__(self, *terms: Loss):
        flat: list[Loss] = []
        for term in terms:
            flat.extend(term.terms if isinstance(term, Sum) else [term])
        if len(flat) < 2:
            raise ValueError(f"Sum: expected at least two losses, got {len(flat)}")
        self.terms = flat
        settings = self.return_settings()
        if len(settings) > 1:
            raise ValueError(
                "Sum: expected every part to read y the same way (returns_channel, kind, "
                f"rebalance), got {sorted(settings)}"
            )

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = self.terms[0].forward(weights, y)
        for term in self.terms[1:]:
            total = total + term.forward(weights, y)
        return total

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        total = self.terms[0].score(returns)
        for term in self.terms[1:]:
            total = total + term.score(returns)
        return total

    def return_settings(self) -> set[tuple[int | str | None, str, bool]]:
        return set().union(*(t.return_settings() for t in self.terms))

    def leaves(self) -> list[Loss]:
        return [leaf for term in self.terms for leaf in term.leaves()]

    def __repr__(self) -> str:
        text = repr(self.terms[0])
        for term in self.terms[1:]:
            if isinstance(term, Scale) and term.factor < 0:
                text += f" - {Scale(term.loss, -term.factor, divisor=term._positive_divisor())!r}"
            else:
                text += f" + {term!r}"
        return text


class Scale(Loss):
    """A loss times a constant; ``c * a``, ``a * c``, ``a / c`` and ``-a`` build it."""

    def __init__(self, loss: Loss, factor: float, *, divisor: float | None = None):
        self.loss = loss
        self.factor = float(factor)
        self.divisor = divisor

    def _positive_divisor(self) -> float | None:
        return None if self.divisor is None else abs(self.divisor)

    def forward(self, weights: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.factor * self.loss.forward(weights, y)

    def score(self, returns: torch.Tensor) -> torch.Tensor:
        return self.factor * self.loss.score(returns)

    def return_settings(self) -> set[tuple[int | str | None, str, bool]]:
        return self.loss.return_settings()

    def leaves(self) -> list[Loss]:
        return self.loss.leaves()

    def __repr__(self) -> str:
        inner = repr(self.loss)
        if isinstance(self.loss, Sum):
            inner = f"({inner})"
        if self.divisor is not None:
            return f"{inner} / {_format_number(self.divisor)}"
        if self.factor == 1.0:
            return inner
        if self.factor == -1.0:
            return f"-{inner}"
        return f"{_format_number(self.factor)} * {inner}"
