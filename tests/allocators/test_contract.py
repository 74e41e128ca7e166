"""One contract, every allocator: shape, budget, bounds, gradcheck, permutation
equivariance, batch independence, dtype preserved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch

from deepalloc.allocators import (
    AnalyticalMarkowitz,
    ConvexAllocator,
    EqualWeightAllocator,
    HellingerDRAllocator,
    MarkowitzAllocator,
    MinVarianceAllocator,
    NominalAllocator,
    RiskBudgetingAllocator,
    SoftmaxAllocator,
    SparsemaxAllocator,
    TanhAllocator,
    TVDRAllocator,
    WeightNorm,
)
from deepalloc.errors import NonFiniteError
from tests.allocators.conftest import mean_variance_problem

N = 5


def scores(batch, seed, dtype):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, N, generator=g, dtype=dtype),)


def mean_variance(batch, seed, dtype):
    return mean_variance_problem(batch, N, seed, dtype)


def cov_only(batch, seed, dtype):
    return (mean_variance_problem(batch, N, seed, dtype)[1],)


def mu_cov(batch, seed, dtype):
    mu, s, _, _ = mean_variance_problem(batch, N, seed, dtype)
    return (mu, s)


def robust(batch, seed, dtype, with_delta=True):
    """mu (batch, N), errors (batch, 8, N), gamma (batch,) [, delta (batch,)]."""
    g = torch.Generator().manual_seed(seed)
    e = torch.randn(batch, 8, N, generator=g, dtype=dtype) + torch.randn(
        batch, 8, 1, generator=g, dtype=dtype
    )
    mu = 0.3 * torch.randn(batch, N, generator=g, dtype=dtype)
    gamma = 0.5 + torch.rand(batch, generator=g, dtype=dtype)
    delta = 0.05 + 0.15 * torch.rand(batch, generator=g, dtype=dtype)  # Newton range: < 0.27
    return (mu, e, gamma, delta) if with_delta else (mu, e, gamma)


@dataclass
class Spec:
    name: str
    make: Callable[[], torch.nn.Module]
    inputs: Callable
    kinds: tuple[str, ...]  # per input: "asset" (last axis), "cov" (columns of S), "sample"
    budget: float | None = 1.0
    lower: float | None = 0.0
    upper: float | None = 1.0
    gross: float | None = None
    net: float | None = None
    equivariant: bool = True
    fast_gradcheck: bool = False  # random directions only, for slow solvers
    marks: list = field(default_factory=list)
    # finite-difference step and tolerance of the gradient check: a solution accurate to
    # e gives numerical derivatives accurate to about e / step
    grad_step: float = 1e-6
    grad_atol: float = 1e-5


SPECS = [
    Spec("softmax", SoftmaxAllocator, scores, ("asset",)),
    Spec("softmax_capped", lambda: SoftmaxAllocator(max_weight=0.3), scores, ("asset",), upper=0.3),
    Spec(
        "softmax_learnable_t", lambda: SoftmaxAllocator(temperature="learnable"), scores, ("asset",)
    ),
    Spec("sparsemax", SparsemaxAllocator, scores, ("asset",)),
    Spec(
        "sparsemax_capped",
        lambda: SparsemaxAllocator(max_weight=0.3),
        scores,
        ("asset",),
        upper=0.3,
    ),
    Spec("tanh", TanhAllocator, scores, ("asset",), budget=None, lower=None, upper=None, gross=1.0),
    Spec(
        "tanh_neutral",
        lambda: TanhAllocator(net=0.0),
        scores,
        ("asset",),
        budget=0.0,
        lower=None,
        upper=None,
        gross=1.0,
    ),
    Spec(
        "tanh_130_30",
        lambda: TanhAllocator(net=1.0, gross=1.6),
        scores,
        ("asset",),
        lower=None,
        upper=None,
        gross=1.6,
    ),
    Spec("equal_weight", EqualWeightAllocator, scores, ("asset",)),
    Spec("weight_norm", lambda: WeightNorm(N), scores, ("asset",), equivariant=False),
    Spec(
        "analytical_minvar", AnalyticalMarkowitz, mu_cov, ("asset", "cov"), lower=None, upper=None
    ),
    Spec(
        "analytical_tangency",
        lambda: AnalyticalMarkowitz("tangency"),
        mu_cov,
        ("asset", "cov"),
        lower=None,
        upper=None,
    ),
    Spec(
        "markowitz",
        lambda: MarkowitzAllocator(N, max_weight=0.4),
        mean_variance,
        ("asset", "cov", "sample", "sample"),
        upper=0.4,
    ),
    Spec(
        "markowitz_short",
        lambda: MarkowitzAllocator(N, max_weight=0.6, allow_short=True),
        mean_variance,
        ("asset", "cov", "sample", "sample"),
        lower=-0.6,
        upper=0.6,
    ),
    Spec(
        "markowitz_gross",
        lambda: MarkowitzAllocator(N, max_weight=0.9, allow_short=True, gross_leverage=1.3),
        lambda b, s, d: (
            mean_variance_problem(b, N, s, d)[0] * 20,
            *mean_variance_problem(b, N, s, d)[1:],
        ),
        ("asset", "cov", "sample", "sample"),
        lower=-0.9,
        upper=0.9,
        gross=1.3,
    ),
    Spec(
        "min_variance",
        lambda: MinVarianceAllocator(N, max_weight=0.5),
        cov_only,
        ("cov",),
        upper=0.5,
    ),
    Spec("risk_budgeting", RiskBudgetingAllocator, cov_only, ("cov",)),
    Spec(
        "convex_mean_variance",
        lambda: ConvexAllocator(N, max_weight=0.4),
        mean_variance,
        ("asset", "cov", "sample", "sample"),
        upper=0.4,
    ),
    Spec(
        "convex_min_variance_groups",
        lambda: ConvexAllocator(N, objective="min_variance", groups=[([0, 1], 0.3)]),
        lambda b, s, d: mean_variance_problem(b, N, s, d)[1:2] + (torch.full((b,), 0.01, dtype=d),),
        ("cov", "sample"),
        equivariant=False,
    ),
    Spec(
        "nominal_qp",
        NominalAllocator,
        lambda b, s, d: robust(b, s, d, with_delta=False),
        ("asset", "asset", "sample"),
    ),
    Spec(
        "nominal_cvxpylayers",
        lambda: NominalAllocator(method="cvxpylayers"),
        lambda b, s, d: robust(b, s, d, with_delta=False),
        ("asset", "asset", "sample"),
    ),
    Spec(
        "hellinger_newton",
        HellingerDRAllocator,
        robust,
        ("asset", "asset", "sample", "sample"),
        fast_gradcheck=True,
    ),
    Spec("tv_cvxpylayers", TVDRAllocator, robust, ("asset", "asset", "sample", "sample")),
    Spec(
        "convex_max_entropy",
        lambda: ConvexAllocator(N, objective="max_entropy", max_weight=0.35),
        lambda b, s, d: (scores(b, s, d)[0],),
        ("asset",),
        upper=0.35,
        # Clarabel solves the entropy's exponential cones to about 2e-7, so a step of
        # 1e-4 leaves numerical derivatives accurate to about 2e-3
        grad_step=1e-4,
        grad_atol=1e-3,
    ),
]


def argument_names(alloc, spec):
    """Names of the allocator's tensor inputs, in order (scores for the simplex maps)."""
    return tuple(getattr(alloc, "inputs", ("scores",)))[: len(spec.kinds)]


def assert_budget(spec, w, rounding):
    if spec.budget is not None:
        gap = (w.sum(-1) - spec.budget).abs().max()
        assert gap <= rounding, f"rows must sum to the budget {spec.budget}, off by {gap}"


def permute(inputs, kinds, perm):
    out = []
    for x, kind in zip(inputs, kinds):
        out.append(x[..., perm] if kind in ("asset", "cov") else x)
    return out


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_allocator_contract(spec: Spec):
    torch.manual_seed(0)  # test-only: parameters of learnable modules
    alloc = spec.make().double()
    inputs = spec.inputs(4, 1, torch.float64)
    w = alloc(*inputs)
    assert w.shape == (4, N)
    assert w.dtype == torch.float64
    assert torch.isfinite(w).all()
    tol = 1e-8  # the solvers' accuracy (SCS at 1e-10, the QP at 1e-9), in float64
    assert_budget(spec, w, tol)
    if spec.lower is not None:
        assert (w >= spec.lower - tol).all()
    if spec.upper is not None:
        assert (w <= spec.upper + tol).all()
    if spec.gross is not None:
        assert (w.abs().sum(-1) <= spec.gross + 1e-7).all()

    # batch independence: each sample alone gives the same weights
    for i in range(4):
        alone = alloc(*[x[i : i + 1] if x.ndim else x for x in inputs])
        torch.testing.assert_close(alone[0], w[i], atol=1e-7, rtol=1e-6)

    # asset-permutation equivariance
    if spec.equivariant:
        perm = torch.tensor([3, 0, 4, 1, 2])
        w_perm = alloc(*permute(inputs, spec.kinds, perm))
        torch.testing.assert_close(w_perm, w[:, perm], atol=1e-7, rtol=1e-6)

    # dtype follows the inputs; the rows still sum to the budget in float32
    w32 = spec.make()(*[x.float() for x in inputs])
    assert w32.dtype == torch.float32
    assert_budget(spec, w32, 1e-5)  # a few hundred float32 epsilons, the solvers' floor

    # strong inputs (scores or expected returns 100 times larger) still give rows on budget
    strong = [x * 100 if kind == "asset" else x for x, kind in zip(inputs, spec.kinds)]
    assert_budget(spec, alloc(*strong), tol)

    # finite, correct gradients in float64
    grad_inputs = [x.clone().requires_grad_(True) for x in spec.inputs(2, 2, torch.float64)]
    assert torch.autograd.gradcheck(
        lambda *xs: alloc(*xs),
        tuple(grad_inputs),
        eps=spec.grad_step,
        atol=spec.grad_atol,
        rtol=1e-3,
        fast_mode=spec.fast_gradcheck,
    )


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.name != "weight_norm"], ids=lambda s: s.name
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_inputs_are_named_with_their_sample(spec: Spec, bad: float):
    # WeightNorm is left out: it uses only its input's batch size, never its values
    alloc = spec.make().double()
    names = argument_names(alloc, spec)
    for k, x in enumerate(spec.inputs(3, 1, torch.float64)):
        inputs = list(spec.inputs(3, 1, torch.float64))
        broken = x.clone()
        broken.view(3, -1)[1, -1] = bad
        inputs[k] = broken
        with pytest.raises(NonFiniteError, match=f"{names[k]}: expected finite values") as err:
            alloc(*inputs)
        assert err.value.argument == names[k] and err.value.samples == [1]


def test_infeasible_caps_raise():
    with pytest.raises(ValueError, match="max_weight x n_assets >= 1"):
        SoftmaxAllocator(max_weight=0.1)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="max_weight x n_assets >= 1"):
        SparsemaxAllocator(max_weight=0.1)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="max_weight x n_assets >= 1"):
        MarkowitzAllocator(5, max_weight=0.1)


def test_per_sample_temperature():
    z = torch.randn(3, N, dtype=torch.float64)
    t = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64)
    w = SoftmaxAllocator()(z, temperature=t)
    torch.testing.assert_close(w, torch.softmax(z / t[:, None], -1))
    with pytest.raises(ValueError, match="temperature: expected shape"):
        SoftmaxAllocator()(z, temperature=torch.ones(2))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_is_preserved_on_cuda():
    for spec in SPECS:
        if spec.name.startswith("convex"):
            continue
        alloc = spec.make().cuda()
        w = alloc(*[x.cuda() for x in spec.inputs(4, 1, torch.float32)])
        assert w.is_cuda and w.dtype == torch.float32
