import numpy as np
import pytest
import torch

from deepalloc.allocators import (
    ConvexAllocator,
    MarkowitzAllocator,
    MinVarianceAllocator,
    QPSettings,
    RiskBudgetingAllocator,
    SolverError,
)
from deepalloc.errors import NonFiniteError
from deepalloc.functional.measures import risk_contributions
from tests.allocators.conftest import (
    assert_matches_clarabel,
    cvxpy_mean_variance,
    mean_variance_problem,
)


@pytest.mark.parametrize(("n", "cap"), [(5, 1.0), (10, 0.15), (30, 0.05), (60, 1.0), (100, 0.02)])
def test_weights_match_cvxpy_clarabel(n, cap):
    mu, s, gamma, alpha = mean_variance_problem(6, n, seed=n)
    mu = mu * 4  # strong views so the cap binds
    w = MarkowitzAllocator(n, max_weight=cap)(mu, s, gamma, alpha)
    binding = assert_matches_clarabel(w, mu, s, gamma, alpha, cap)
    if cap < 1:
        assert binding > 0, "the test must include problems where the cap binds"


def test_long_short_and_gross_leverage_match_cvxpy():
    n = 12
    mu, s, gamma, alpha = mean_variance_problem(6, n, seed=3)
    mu = mu * 10
    w_short = MarkowitzAllocator(n, max_weight=0.5, allow_short=True)(mu, s, gamma, alpha)
    w_gross = MarkowitzAllocator(n, max_weight=0.5, allow_short=True, gross_leverage=1.5)(
        mu, s, gamma, alpha
    )
    for i in range(6):
        args = (mu[i].numpy(), s[i].numpy(), gamma[i].item(), alpha[i].item())
        np.testing.assert_allclose(
            w_short[i].numpy(), cvxpy_mean_variance(*args, lower=-0.5, upper=0.5), atol=1e-6
        )
        np.testing.assert_allclose(
            w_gross[i].numpy(),
            cvxpy_mean_variance(*args, lower=-0.5, upper=0.5, gross=1.5),
            atol=1e-6,
        )
    assert (w_short.abs().sum(-1) > 1.5).any(), "the leverage cap must bind somewhere"


def test_per_sample_gamma_is_used_per_sample():
    n = 8
    mu, s, _, alpha = mean_variance_problem(1, n, seed=4)
    gammas = torch.tensor([0.1, 1.0, 10.0], dtype=torch.float64)
    batch = MarkowitzAllocator(n)(mu.expand(3, n), s.expand(3, n, n), gammas, alpha.expand(3))
    for i, g in enumerate(gammas):
        alone = MarkowitzAllocator(n)(mu, s, g.reshape(1), alpha)
        torch.testing.assert_close(batch[i], alone[0])
    assert not torch.allclose(batch[0], batch[2], atol=1e-3)


def _loss_and_grads(alloc, inputs, c):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    loss = (alloc(*xs) * c).sum()
    return loss.item(), torch.autograd.grad(loss, xs)


@pytest.mark.parametrize("n", [5, 25])
def test_gradients_match_cvxpylayers_and_finite_differences(n):
    mu, s, gamma, alpha = mean_variance_problem(3, n, seed=10 + n)
    cap = 0.35 if n == 5 else 0.08
    inputs = (mu, s, gamma, alpha)
    c = torch.randn(3, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    fast = MarkowitzAllocator(n, max_weight=cap)
    slow = ConvexAllocator(n, objective="mean_variance", max_weight=cap)
    _, g_fast = _loss_and_grads(fast, inputs, c)
    _, g_slow = _loss_and_grads(slow, inputs, c)
    assert torch.linalg.norm(g_fast[0]) > 1e-2, "some assets must be free for a real test"
    for a, b in zip(g_fast, g_slow):
        assert torch.linalg.norm(a - b) <= 1e-4 * torch.linalg.norm(b) + 1e-10
    # central finite differences along a random direction of every input
    gen = torch.Generator().manual_seed(1)
    dirs = [torch.randn(x.shape, dtype=x.dtype, generator=gen) for x in inputs]
    h = 1e-6
    plus = (fast(*[x + h * d for x, d in zip(inputs, dirs)]) * c).sum().item()
    minus = (fast(*[x - h * d for x, d in zip(inputs, dirs)]) * c).sum().item()
    fd = (plus - minus) / (2 * h)
    analytic = sum((g * d).sum().item() for g, d in zip(g_fast, dirs))
    assert abs(fd - analytic) <= 1e-4 * abs(analytic) + 1e-9


def test_min_variance_matches_cvxpy():
    n = 15
    _, s, _, _ = mean_variance_problem(4, n, seed=5)
    w = MinVarianceAllocator(n, max_weight=0.12)(s)
    for i in range(4):
        ref = cvxpy_mean_variance(np.zeros(n), s[i].numpy(), 1.0, 0.0, upper=0.12)
        np.testing.assert_allclose(w[i].numpy(), ref, atol=1e-6)


def test_non_convergence_is_reported():
    n = 40
    mu, s, gamma, alpha = mean_variance_problem(4, n, seed=6)
    alloc = MarkowitzAllocator(n, max_weight=0.05, settings=QPSettings(warm_steps=0, max_iter=1))
    with pytest.raises(SolverError, match="unconverged samples") as err:
        alloc(mu * 5, s, gamma, alpha)
    assert err.value.samples


def test_bad_shapes():
    mu, s, gamma, alpha = mean_variance_problem(2, 5, seed=0)
    with pytest.raises(ValueError, match="expected the same asset size"):
        MarkowitzAllocator()(mu[:, :4], s, gamma, alpha)
    with pytest.raises(ValueError, match="gamma: expected a scalar or shape \\(2,\\)"):
        MarkowitzAllocator()(mu, s, gamma[:1].expand(3), alpha)
    with pytest.raises(ValueError, match="mu: expected 6 assets, got 5"):
        MarkowitzAllocator(6)(mu, s, gamma, alpha)


@pytest.mark.parametrize("n", [4, 20, 60])
def test_risk_budgeting_hits_budgets(n):
    _, s, _, _ = mean_variance_problem(5, n, seed=n)
    budgets = torch.linspace(1, 3, n, dtype=torch.float64)
    budgets = budgets / budgets.sum()
    w = RiskBudgetingAllocator(budgets)(s)
    rc = risk_contributions(w, s.transpose(1, 2) @ s)
    assert (rc - budgets).abs().max() < 1e-6
    assert (w > 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(5, dtype=torch.float64))


def test_nan_in_cov_sqrt_is_named_not_a_singular_system():
    mu, s, gamma, alpha = mean_variance_problem(3, 5, seed=0)
    s[1, 2, 2] = float("nan")
    with pytest.raises(NonFiniteError, match="cov_sqrt: expected finite values") as err:
        MarkowitzAllocator(5)(mu, s, gamma, alpha)
    assert err.value.samples == [1]
    with pytest.raises(NonFiniteError, match="gamma: expected finite values"):
        MarkowitzAllocator(5)(
            mu, s.nan_to_num(), gamma.index_fill(0, torch.tensor([2]), torch.inf), alpha
        )
