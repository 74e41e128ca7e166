"""String options of the layers and ready networks: typed as ``Literal[...]`` (so type
checkers catch a typo) and checked at construction (so a typo fails at once, not at the
first forward pass). The accepted values must be exactly the ``Literal``'s."""

from __future__ import annotations

import inspect
import typing

import pytest
import torch

from deepalloc import networks
from deepalloc.functional import risk
from deepalloc.layers import MLP, AssetConv, AssetRNN, CovarianceEstimator, TimePool

# (callable, parameter, builder of a valid object from one option value)
OPTIONS = [
    (TimePool, "mode", lambda v: TimePool(v, n_channels=3)),
    (AssetRNN, "cell", lambda v: AssetRNN(1, 4, cell=v)),
    (CovarianceEstimator, "shrinkage", lambda v: CovarianceEstimator(v)),
    (CovarianceEstimator, "intensity", lambda v: CovarianceEstimator("diagonal", v)),
    (CovarianceEstimator, "output", lambda v: CovarianceEstimator(output=v)),
    (CovarianceEstimator, "sqrt_method", lambda v: CovarianceEstimator(sqrt_method=v)),
    (MLP, "activation", lambda v: MLP(3, 2, hidden=(4,), activation=v)),
    (MLP, "norm", lambda v: MLP(3, 2, hidden=(4,), norm=v)),
    (AssetConv, "pool", lambda v: AssetConv(1, 2, pool=v)),
    (AssetConv, "padding", lambda v: AssetConv(1, 2, padding=v)),
    (networks.LSTMNet, "pool", lambda v: networks.LSTMNet(1, hidden_size=4, pool=v)),
    (networks.LSTMNet, "cell", lambda v: networks.LSTMNet(1, hidden_size=4, cell=v)),
    (
        networks.LSTMMarkowitzNet,
        "pool",
        lambda v: networks.LSTMMarkowitzNet(1, hidden_size=4, pool=v),
    ),
    (networks.DenseNet, "activation", lambda v: networks.DenseNet(1, 10, activation=v)),
    (networks.ConvNet, "pool", lambda v: networks.ConvNet(1, 10, pool=v)),
    (risk.matrix_sqrt, "method", None),
    (risk.shrunk_covariance, "target", None),
]


def literal_values(fn: object, name: str) -> tuple[object, ...]:
    """The string values of the ``Literal`` in ``fn``'s annotation of ``name``."""
    target = fn.__init__ if isinstance(fn, type) else fn  # type: ignore[misc]
    hint = typing.get_type_hints(inspect.unwrap(target))[name]  # past the recording wrapper
    parts = (hint,) if typing.get_origin(hint) is typing.Literal else typing.get_args(hint)
    values: list[object] = []
    for part in parts:
        if typing.get_origin(part) is typing.Literal:
            values += typing.get_args(part)
    return tuple(values)


@pytest.mark.parametrize(("fn", "name", "build"), OPTIONS)
def test_annotation_is_a_literal_of_strings(fn, name, build):
    values = literal_values(fn, name)
    assert values, f"{fn.__name__}({name}=): expected a Literal of its string options"
    assert all(isinstance(v, str) for v in values)


@pytest.mark.parametrize(("fn", "name", "build"), [o for o in OPTIONS if o[2] is not None])
def test_every_literal_value_is_accepted_and_nothing_else(fn, name, build):
    for value in literal_values(fn, name):
        build(value)
    with pytest.raises(ValueError, match=name):
        build("bogus")


def test_the_runtime_choices_are_the_literals():
    assert literal_values(risk.matrix_sqrt, "method") == risk.SQRT_METHODS
    assert literal_values(risk.shrunk_covariance, "target") == risk.SHRINK_TARGETS
    from deepalloc.layers import dense, pooling

    assert literal_values(TimePool, "mode") == pooling.POOL_MODES
    assert literal_values(MLP, "activation") == dense.ACTIVATIONS


def test_functional_options_are_checked():
    cov = torch.eye(3, dtype=torch.float64).expand(2, 3, 3)
    with pytest.raises(ValueError, match="method"):
        risk.matrix_sqrt(cov, method="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="target"):
        risk.shrunk_covariance(torch.randn(2, 3, 10), "bogus")  # type: ignore[arg-type]


def test_mlp_without_hidden_layers_still_checks_its_activation():
    # the activation was checked only when a hidden layer was built
    with pytest.raises(ValueError, match="activation"):
        MLP(3, 2, hidden=(), activation="bogus")  # type: ignore[arg-type]
