"""Mean-variance layers with trading costs (issue 21): both cost models against a direct
Clarabel solve, the no-trade region, gradients against finite differences, kappa's
shapes, input checks, the shared allocator contract and compiled graphs."""

import cvxpy as cp
import numpy as np
import pytest
import torch

from deepalloc.allocators import MarkowitzAllocator, MinVarianceAllocator, qp_compiled, qp_solver
from deepalloc.allocators.qp import QPSettings
from deepalloc.errors import NonFiniteError
from tests.allocators.conftest import TIGHT, mean_variance_problem
from tests.allocators.test_contract import Spec, test_allocator_contract

MODELS = ("quadratic", "proportional")


def clarabel(mu, s, gamma, alpha, prev, kappa, lower, upper, model):
    """The cost-aware problem of one sample, written directly in cvxpy."""
    w = cp.Variable(len(mu))
    cost = kappa @ cp.square(w - prev) if model == "quadratic" else kappa @ cp.abs(w - prev)
    risk = gamma * cp.sum_squares(s @ w) + alpha * cp.sum_squares(w)
    problem = cp.Problem(
        cp.Maximize(mu @ w - risk - cost), [cp.sum(w) == 1, w >= lower, w <= upper]
    )
    problem.solve(**TIGHT)
    return np.asarray(w.value)


def previous(batch, n, seed, scale=1.0):
    """Random previous weights on the simplex (times ``scale``: drifted off it)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(batch, n, generator=g, dtype=torch.float64)
    return w / w.sum(-1, keepdim=True) * scale


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("n", "cap", "short"), [(5, 1.0, False), (20, 0.2, False), (12, 0.3, True)]
)
def test_each_cost_model_equals_a_direct_clarabel_solve(model, n, cap, short):
    b = 12
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=n)
    mu = mu * 4
    prev = previous(b, n, seed=n)
    prev[:3] = prev[:3] * 3  # drifted weights: over the cap, off the budget
    # rates over four decades, the largest ones leaving assets (or whole rows) untraded
    kappa = torch.rand(b, n, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    kappa = kappa * torch.logspace(-4, 0, b, dtype=torch.float64)[:, None]
    w = MarkowitzAllocator(n, max_weight=cap, allow_short=short, trading_cost=model)(
        mu, s, gamma, alpha, prev, kappa
    )
    lower = -cap if short else 0.0
    for i in range(b):
        ref = clarabel(*(t[i].numpy() for t in (mu, s)), gamma[i].item(), alpha[i].item(),
                       prev[i].numpy(), kappa[i].numpy(), lower, cap, model)  # fmt: skip
        # Clarabel at 1e-12 is accurate to about 1e-10 here; issue 21 asks for 1e-7
        np.testing.assert_allclose(w[i].numpy(), ref, atol=1e-7)
    if model == "proportional":
        untraded = ((w - prev).abs() < 1e-12).sum().item()
        assert untraded >= n, "the test must include untraded assets (active no-trade)"


@pytest.mark.parametrize("kernel", ["vectorised", "compiled"])
@pytest.mark.parametrize("warm_steps", [0, 10])
def test_proportional_costs_finished_by_the_primal_fallback_equal_clarabel(
    warm_steps, kernel, monkeypatch
):
    # one primal-dual step, then the unfinished samples continue in the primal
    # active-set fallback, from proximal gradient steps off their last point (none:
    # from the kinked proximal map of their projected point)
    n, b, cap = 30, 12, 0.1
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=5)
    mu = mu * 4
    prev = previous(b, n, seed=6)
    kappa = torch.rand(b, n, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    kappa = kappa * torch.logspace(-2, -1, b, dtype=torch.float64)[:, None]
    finished_by_fallback = []
    if kernel == "vectorised":
        finish = qp_solver._finish_with_primal

        def counted(full, state, settings, tol):
            finished_by_fallback.append(len(state.idx))
            return finish(full, state, settings, tol)

        monkeypatch.setattr(qp_solver, "_finish_with_primal", counted)
    else:
        pytest.importorskip("numba")
        solve = qp_compiled.solve

        def counted(*args, **kwargs):  # steps beyond the one primal-dual step
            result = solve(*args, **kwargs)
            finished_by_fallback.append(int((result.iterations > 1).sum()))
            return result

        monkeypatch.setattr(qp_compiled, "solve", counted)
    settings = QPSettings(warm_steps=warm_steps, fallback_after=1, kernel=kernel)
    layer = MarkowitzAllocator(n, max_weight=cap, trading_cost="proportional", settings=settings)
    w = layer(mu, s, gamma, alpha, prev, kappa)
    assert finished_by_fallback and finished_by_fallback[0] > 0, "the fallback must run"
    for i in range(b):
        ref = clarabel(*(t[i].numpy() for t in (mu, s)), gamma[i].item(), alpha[i].item(),
                       prev[i].numpy(), kappa[i].numpy(), 0.0, cap, "proportional")  # fmt: skip
        np.testing.assert_allclose(w[i].numpy(), ref, atol=1e-7)  # as in the test above
    untraded = ((w - prev).abs() < 1e-12).sum().item()
    assert untraded >= n // 2, "the test must include untraded assets (active no-trade)"


@pytest.mark.parametrize("cap", [1.0, 0.3])
def test_a_large_proportional_cost_returns_the_previous_weights(cap):
    n, b = 8, 6
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=3)
    prev = previous(b, n, seed=4)
    if cap < 1:  # keep the previous weights feasible under the cap
        prev = torch.full((b, n), 1.0 / n, dtype=torch.float64) * 0.5 + prev * 0.5
        assert (prev <= cap).all()
    layer = MarkowitzAllocator(n, max_weight=cap, trading_cost="proportional")
    w = layer(mu * 10, s, gamma, alpha, prev, 10.0)  # far above any marginal utility here
    # exactly w_prev, up to the rounding of the budget sum (a few machine epsilons)
    torch.testing.assert_close(w, prev, atol=8 * n * torch.finfo(torch.float64).eps, rtol=0)
    # per asset: a prohibitive rate on some assets keeps exactly those untraded
    kappa = torch.zeros(b, n, dtype=torch.float64)
    kappa[:, :3] = 10.0
    w = layer(mu * 10, s, gamma, alpha, prev, kappa)
    assert torch.equal(w[:, :3], prev[:, :3])
    assert ((w[:, 3:] - prev[:, 3:]).abs() > 1e-6).any()


def test_min_variance_with_costs_equals_clarabel():
    n, b = 10, 4
    _, s, _, _ = mean_variance_problem(b, n, seed=7)
    prev = previous(b, n, seed=8)
    for model in MODELS:
        w = MinVarianceAllocator(n, max_weight=0.3, trading_cost=model)(s, 0.0, prev, 0.002)
        for i in range(b):
            ref = clarabel(np.zeros(n), s[i].numpy(), 1.0, 0.0, prev[i].numpy(),
                           np.full(n, 0.002), 0.0, 0.3, model)  # fmt: skip
            np.testing.assert_allclose(w[i].numpy(), ref, atol=1e-7)


def margins(w, mu, s, gamma, alpha, prev, kappa, cap):
    """Distance of one sample's solution from every switch of its active set (NumPy).

    Untraded assets: ``kappa - |g|`` (only the side they can move to when ``w_prev``
    is at a bound); traded free ones: distance to ``w_prev`` and the bounds; assets at a
    bound: their multiplier beyond ``kappa``. ``g`` is the smooth gradient plus the
    budget multiplier, recovered from the traded free assets.
    """
    p = 2 * (gamma * s.T @ s + alpha * np.eye(len(w)))
    grad = p @ w - mu
    untraded = np.abs(w - prev) < 1e-12
    at_zero, at_cap = (w < 1e-12) & ~untraded, (w > cap - 1e-12) & ~untraded
    free = ~(untraded | at_zero | at_cap)
    sign = np.sign(w - prev)
    nu = np.mean(-(grad + kappa * sign)[free])  # grad + nu + kappa sign = 0 when free
    g = grad + nu
    up_blocked, down_blocked = prev >= cap - 1e-12, prev <= 1e-12
    hold = np.minimum(
        np.where(up_blocked, np.inf, kappa + g), np.where(down_blocked, np.inf, kappa - g)
    )
    out = [hold[untraded], np.abs(w - prev)[free], w[free], cap - w[free]]
    out += [(g - kappa)[at_zero], -(g + kappa)[at_cap]]
    return np.concatenate(out).min(), untraded.sum(), free.sum()


@pytest.mark.parametrize("model", MODELS)
def test_gradients_match_finite_differences(model):
    # previous weights near the cost-free optimum and a moderate rate: some assets
    # untraded, some traded, some at zero, each far from switching (margins checked)
    n, b, cap = 7, 2, 0.45
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=21)
    mu = mu * 4
    plain = MarkowitzAllocator(n, max_weight=cap)(mu, s, gamma, alpha)
    nudge = previous(b, n, seed=5) - 1.0 / n
    prev = (plain + 0.3 * nudge).clamp(0, cap)
    # strictly inside the bounds: at a bound w_prev is clipped, a kink of its own
    prev = 0.9 * prev / prev.sum(-1, keepdim=True) + 0.1 / n
    kappa = torch.full((b, n), 0.05, dtype=torch.float64)
    kappa[:, 0] = 0.002  # per-asset rates
    layer = MarkowitzAllocator(n, max_weight=cap, trading_cost=model)
    w = layer(mu, s, gamma, alpha, prev, kappa)
    if model == "proportional":
        for i in range(b):
            args = (t[i].numpy() for t in (w, mu, s))
            margin, untraded, free = margins(*args, gamma[i].item(), alpha[i].item(),
                                             prev[i].numpy(), kappa[i].numpy(), cap)  # fmt: skip
            assert untraded >= 1 and free >= 1, "untraded and traded assets both needed"
            # finite differences of step 1e-7 move the solution by about 1e-7 x a
            # derivative of order 1: well inside the margin, so the active set stays put
            assert margin > 1e-4
    inputs = [t.clone().requires_grad_(True) for t in (mu, s, prev, kappa)]
    assert torch.autograd.gradcheck(
        lambda m, c, p, k: layer(m, c, gamma, alpha, p, k),
        tuple(inputs),
        eps=1e-7,
        atol=1e-6,
        rtol=1e-4,
    )


def test_gradient_of_an_untraded_asset_flows_to_its_previous_weight():
    # in the no-trade region w = w_prev: moving w_prev along the budget moves w alike
    n, b = 6, 3
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=9)
    prev = previous(b, n, seed=10).requires_grad_(True)
    layer = MarkowitzAllocator(n, trading_cost="proportional")
    w = layer(mu, s, gamma, alpha, prev, 5.0)
    direction = torch.zeros(b, n, dtype=torch.float64)
    direction[:, 1], direction[:, 4] = 1.0, -1.0  # keeps the budget
    (grad,) = torch.autograd.grad((w * direction).sum(), prev)
    torch.testing.assert_close((grad * direction).sum(-1), torch.full((b,), 2.0).double())


def test_kappa_shapes():
    n, b = 5, 3
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=2)
    prev = previous(b, n, seed=3)
    layer = MarkowitzAllocator(n, trading_cost="proportional")
    per_asset = torch.linspace(0.001, 0.01, n, dtype=torch.float64)
    per_sample = torch.tensor([0.001, 0.01, 0.1], dtype=torch.float64)
    full = layer(mu, s, gamma, alpha, prev, per_asset[None, :] * per_sample[:, None])
    a = layer(mu, s, gamma, alpha, prev, per_asset)
    torch.testing.assert_close(a, layer(mu, s, gamma, alpha, prev, per_asset.expand(b, n)))
    c = layer(mu, s, gamma, alpha, prev, per_sample)
    torch.testing.assert_close(
        c, layer(mu, s, gamma, alpha, prev, per_sample[:, None].expand(b, n))
    )
    assert full.shape == (b, n)
    # the constructor's rate is the default
    default = MarkowitzAllocator(n, trading_cost="proportional", kappa=per_asset)
    torch.testing.assert_close(default(mu, s, gamma, alpha, prev), a)
    listed = MarkowitzAllocator(n, trading_cost="proportional", kappa=per_asset.tolist())
    torch.testing.assert_close(listed(mu, s, gamma, alpha, prev), a)
    square = mean_variance_problem(n, n, seed=1)
    with pytest.raises(ValueError, match="kappa: a 1-d tensor is ambiguous"):
        layer(*square, previous(n, n, 1), per_asset)
    with pytest.raises(ValueError, match=r"kappa: expected a number, \(5,\), \(3,\)"):
        layer(mu, s, gamma, alpha, prev, torch.ones(4, dtype=torch.float64))


def test_bad_inputs_are_refused_with_their_names():
    n, b = 5, 3
    mu, s, gamma, alpha = mean_variance_problem(b, n, seed=2)
    prev = previous(b, n, seed=3)
    layer = MarkowitzAllocator(n, trading_cost="quadratic")
    with pytest.raises(ValueError, match="previous_weights: expected a .* got None"):
        layer(mu, s, gamma, alpha)
    with pytest.raises(ValueError, match=r"previous_weights: expected shape \(3, 5\)"):
        layer(mu, s, gamma, alpha, prev[:2])
    with pytest.raises(ValueError, match="previous_weights, kappa: expected None"):
        MarkowitzAllocator(n)(mu, s, gamma, alpha, prev)
    with pytest.raises(ValueError, match="kappa: expected non-negative values"):
        layer(mu, s, gamma, alpha, prev, -0.1)
    bad = prev.clone()
    bad[1, 2] = float("inf")
    for model in MODELS:
        with pytest.raises(NonFiniteError, match="previous_weights: expected finite") as err:
            MarkowitzAllocator(n, trading_cost=model)(mu, s, gamma, alpha, bad, 0.01)
        assert err.value.samples == [1]
    for bad_rate in (torch.tensor([0.1, -0.1]), -1.0, float("nan"), torch.ones(2, 2)):
        with pytest.raises(ValueError, match="kappa: expected a non-negative number or per-"):
            MarkowitzAllocator(n, trading_cost="proportional", kappa=bad_rate)
    with pytest.raises(ValueError, match="trading_cost: expected None or one of"):
        MarkowitzAllocator(n, trading_cost="linear")
    with pytest.raises(ValueError, match="trading_cost: expected None together with"):
        MarkowitzAllocator(n, allow_short=True, gross_leverage=1.5, trading_cost="quadratic")


N = 5


def _with_costs(batch, seed, dtype):
    mu, s, gamma, alpha = mean_variance_problem(batch, N, seed, dtype)
    prev = previous(batch, N, seed + 100).to(dtype)
    kappa = torch.full((batch, N), 0.003, dtype=dtype)
    return mu, s, gamma, alpha, prev, kappa


def _min_variance_inputs(mu, s, gamma, alpha, prev, kappa):
    return s, alpha, prev, kappa


COST_SPECS = (
    [
        Spec(
            f"markowitz_{model}",
            lambda model=model: MarkowitzAllocator(N, max_weight=0.4, trading_cost=model),
            _with_costs,
            ("asset", "cov", "sample", "sample", "asset", "asset"),
            upper=0.4,
        )
        for model in MODELS
    ]
    + [
        Spec(
            "min_variance_proportional",
            lambda: MinVarianceAllocator(N, max_weight=0.5, trading_cost="proportional"),
            lambda b, s, d: _min_variance_inputs(*_with_costs(b, s, d)),
            ("cov", "sample", "asset", "asset"),
            upper=0.5,
        ),
        Spec(  # the rate the layer owns (a per-asset buffer): what a ready network uses
            "markowitz_proportional_own_kappa",
            lambda: MarkowitzAllocator(
                N,
                max_weight=0.4,
                trading_cost="proportional",
                kappa=torch.linspace(0.001, 0.01, N, dtype=torch.float64),
            ),
            lambda b, s, d: _with_costs(b, s, d)[:5],
            ("asset", "cov", "sample", "sample", "asset"),
            upper=0.4,
            equivariant=False,  # its per-asset rates stay where they are when assets move
        ),
    ]
)


@pytest.mark.parametrize("spec", COST_SPECS, ids=lambda s: s.name)
def test_cost_layers_pass_the_allocator_contract(spec):
    alloc = spec.make()
    assert alloc.inputs[-2:] == ("previous_weights", "kappa")
    assert "previous_weights" in alloc.inputs  # what the holdings-aware heads look for
    test_allocator_contract(spec)


def test_a_compiled_network_with_a_cost_layer_has_no_graph_break():
    mu, s, gamma, alpha, prev, kappa = _with_costs(4, 1, torch.float64)
    layer = MarkowitzAllocator(N, max_weight=0.4, trading_cost="proportional")

    def net(mu, s, prev, kappa):
        return layer(mu * 3, s, gamma, alpha, prev, kappa)

    explained = torch._dynamo.explain(net)(mu, s, prev, kappa)
    assert explained.graph_break_count == 0, [r.reason for r in explained.break_reasons]
    inputs = [t.clone().requires_grad_(True) for t in (mu, s, prev, kappa)]
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    eager_w, compiled_w = net(*inputs), compiled(*inputs)
    torch.testing.assert_close(compiled_w, eager_w, atol=1e-12, rtol=0)
    grads = [torch.autograd.grad(w.sum() + (w * w).sum(), inputs) for w in (eager_w, compiled_w)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("model", MODELS)
def test_a_holdings_aware_network_passes_its_holdings_to_the_cost_layer(model):
    # the head passes previous_weights, the layer owns kappa: a prohibitive proportional
    # rate returns the holdings exactly (the no-trade region through a whole network);
    # a small one trades, and the weights depend on (and differentiate in) the holdings
    from deepalloc.networks import LSTMMarkowitzNet

    b, n = 4, 6
    g = torch.Generator().manual_seed(0)
    x = 0.01 * torch.randn(b, 1, n, 30, generator=g, dtype=torch.float64)
    held = previous(b, n, seed=2).requires_grad_(True)
    for kappa, trades in ((100.0, False), (1e-4, True)):
        torch.manual_seed(0)
        layer = MarkowitzAllocator(max_weight=0.5, trading_cost=model, kappa=kappa)
        net = LSTMMarkowitzNet(1, allocator=layer, holdings_aware=True).double()
        w = net(x, previous_weights=held)
        (grad,) = torch.autograd.grad((w * torch.arange(n)).sum(), held)
        assert grad.abs().sum() > 0
        if model == "proportional" and not trades:
            torch.testing.assert_close(w, held, atol=8 * n * torch.finfo(w.dtype).eps, rtol=0)
        else:
            assert (w - held).abs().max() > 1e-6
    with pytest.raises(ValueError, match="previous_weights: expected a .* got None"):
        LSTMMarkowitzNet(1, allocator=layer).double()(x)  # not holdings-aware: no holdings
