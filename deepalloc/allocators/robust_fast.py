"""Fast paths of the nominal and Hellinger decision layers (pure torch, no cvxpy).

Both layers choose long-only weights ``z`` (``sum(z) = 1``) from predictions ``mu``
(asset), a window of prediction errors ``E`` (time x asset) and a risk appetite
``gamma``, through the deviation risk of Costa & Iyengar (2023)::

    minimise_{z, c}   R(r(z, c)) - gamma mu' z,      r_t(z, c) = (e_t' z - c)^2

with ``R(r) = mean_t r_t`` for the nominal layer and, for the Hellinger layer, the
worst case ``R(r) = max {p' r : p in the simplex, sum_t (sqrt(p_t) - sqrt(1/T))^2 <= delta}``
over the Hellinger ball of radius ``delta`` around the empirical distribution of the
errors.

*Nominal*: minimising over ``c`` gives ``c = mean_t e_t' z`` and ``R = z' C z`` with
``C`` the covariance of the errors (divided by ``T``), so the layer is the box QP
``min z' C z - gamma mu' z`` of :func:`~deepalloc.allocators.qp.solve_box_qp`.

*Hellinger*: for ``delta < 2 (1 - 1/sqrt(T))`` the worst case is smooth: its maximiser is
``p_t = a_t^2 / sum a^2`` with ``a_t = 1 / (eta - r_t)`` and ``eta > max r`` the root of
``(sum a)^2 = T (1 - delta/2)^2 sum a^2`` (a scalar equation solved by safeguarded
Newton steps). ``R`` is then a smooth convex function of ``(z, c)``, and a damped Newton
method minimises it: each step solves a box QP with the exact Hessian (``c`` eliminated
by its Schur complement) and backtracks on the objective. The gradient of the weights
comes from one last QP step taken at the solution with the objective's gradient
recomputed under autograd, which is the implicit-function derivative of the optimality
conditions; the root ``eta`` is made differentiable the same way, by one Newton step at
the root.

The risk stops being smooth where the worst case rests only on scenarios tied for the
largest deviation: that happens once ``k`` tied scenarios can carry the ball's mass,
``k / T >= (1 - delta/2)^2``, and a minimiser can tie up to ``n + 1`` of them (one per
free weight and ``c``). :func:`newton_radius` therefore bounds ``delta`` by
``T (1 - delta/2)^2 > n + 1``; larger radii (and any sample whose Newton system still
turns out singular) belong to the conic path.

Both solves run in float64 on the inputs' device after scaling each sample's errors to
unit root mean square (``z`` is unchanged by it; ``mu`` scales with the square).
"""

from __future__ import annotations

import torch

from deepalloc.allocators.qp import QPSettings, solve_box_qp
from deepalloc.errors import SolverError


def newton_radius(n_obs: int, n_assets: int) -> float:
    """Largest Hellinger radius the Newton path serves: ``T (1 - delta/2)^2 > n + 1``.

    Beyond it the optimum can tie enough scenarios to carry the worst case's whole mass,
    where the risk is not smooth (module docstring). For 104 errors of 20 assets it is
    about 1.10; the ball holds a point mass from ``2 (1 - 1/sqrt(T))``, about 1.80, on.
    """
    return 2.0 * (1.0 - ((n_assets + 1) / n_obs) ** 0.5)


def scale_errors(
    mu: torch.Tensor, errors: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scale every sample to unit error RMS: ``(s^2 mu, s E, s)``; ``s`` carries no gradient."""
    rms = errors.detach().pow(2).mean((1, 2)).sqrt()
    s = 1.0 / rms.clamp_min(torch.finfo(errors.dtype).tiny)
    return mu * (s * s)[:, None], errors * s[:, None, None], s


def nominal_qp(
    mu: torch.Tensor,
    errors: torch.Tensor,
    gamma: torch.Tensor,
    settings: QPSettings | None = None,
) -> torch.Tensor:
    """Nominal layer as a box QP: ``min z' C z - gamma mu' z`` on the simplex.

    Parameters
    ----------
    mu
        Predictions, shape (batch, asset).
    errors
        Prediction errors, shape (batch, time, asset).
    gamma
        Risk appetite, shape (batch,).
    settings
        QP solver settings.

    Returns
    -------
    torch.Tensor
        Weights, shape (batch, asset).
    """
    q, e, _ = scale_errors(gamma[:, None] * mu, errors)
    centred = e - e.mean(1, keepdim=True)
    p = 2.0 * centred.transpose(1, 2) @ centred / e.shape[1]
    return _simplex_qp(p, q, settings)


def _simplex_qp(
    p: torch.Tensor, q: torch.Tensor, settings: QPSettings | None = None
) -> torch.Tensor:
    b, n = q.shape
    return solve_box_qp(
        p,
        q,
        totals=q.new_ones(b, 1),
        lower=q.new_zeros(b, n),
        upper=q.new_ones(b, n),
        settings=settings,
    )


def _root(
    r: torch.Tensor, kappa: torch.Tensor, tol: float = 1e-10, max_iter: int = 100
) -> torch.Tensor:
    """``eta > max r`` with ``(mean a)^2 = kappa^2 mean(a^2)``, ``a = 1/(eta - r)`` (no grad).

    Safeguarded Newton on ``x = log(eta - max r)``, from the root of the equation's
    expansion for large ``eta`` (``(eta - max r)^2 = var(r) / -log(kappa^2)``): the left
    side over the right rises from (ties at the max)/T to 1 as ``x`` grows, so a bracket
    is kept, a step that leaves it bisects it instead, and no step exceeds 2. Samples
    stop as soon as they converge. :func:`worst_case` polishes the root with one more
    Newton step, so ``tol`` need not be tight.
    """
    with torch.no_grad():
        top = r.max(-1).values
        gap = top[:, None] - r
        spread = gap.amax(-1).clamp_min(torch.finfo(r.dtype).tiny)
        lo, hi = (spread * 1e-12).log(), (spread * 1e12).log()
        target = 2.0 * kappa.log()
        x = (gap.std(-1) / (-target).clamp_min(torch.finfo(r.dtype).tiny).sqrt()).log()
        x = torch.minimum(torch.maximum(x, lo), hi)
        for _ in range(max_iter):
            t = x.exp()
            a = 1.0 / (t[:, None] + gap)
            s1, s2, s3 = a.mean(-1), (a * a).mean(-1), (a**3).mean(-1)
            h = 2.0 * s1.log() - s2.log() - target
            running = h.abs() > tol
            if not bool(running.any()):
                break
            up = h > 0
            hi, lo = torch.where(up, x, hi), torch.where(up, lo, x)
            step = x - h / (2.0 * t * (s3 / s2 - s2 / s1))
            inside = (step > lo) & (step < hi) & torch.isfinite(step)
            new = torch.where(inside, step, (lo + hi) / 2)
            new = torch.minimum(torch.maximum(new, x - 2.0), x + 2.0)
            x = torch.where(running, new, x)
        return x.exp() + top


def worst_case(r: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Worst-case distribution over the Hellinger ball, differentiable in ``r`` and ``delta``.

    Parameters
    ----------
    r
        Losses per scenario, shape (batch, time).
    delta
        Radii, shape (batch,), below ``2 (1 - 1/sqrt(T))`` (where the ball starts to
        hold a point mass).

    Returns
    -------
    p, a
        The maximiser ``p`` (batch, time) and ``a = 1/(eta - r)`` (no gradient).
    """
    t = r.shape[-1]
    kappa2 = (1.0 - delta / 2) ** 2
    eta0 = _root(r, 1.0 - delta / 2)
    with torch.no_grad():
        a0 = 1.0 / (eta0[:, None] - r)
        w0 = a0.sum(-1, keepdim=True) - kappa2.detach()[:, None] * t * a0
        slope = -2.0 * (w0 * a0 * a0).sum(-1)
    # one Newton step at the root: exact value, implicit-function derivative
    a = 1.0 / (eta0[:, None] - r)
    g = a.sum(-1) ** 2 - kappa2 * t * (a * a).sum(-1)
    eta = eta0 - g / slope
    a = 1.0 / (eta[:, None] - r)
    p = a * a / (a * a).sum(-1, keepdim=True)
    return p, a.detach()


def _objective(
    q: torch.Tensor, e: torch.Tensor, delta: torch.Tensor, z: torch.Tensor, c: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    u = torch.einsum("btn,bn->bt", e, z) - c[:, None]
    p, a = worst_case(u * u, delta)
    return (p * u * u).sum(-1) - (q * z).sum(-1), p, a, u


def _gradient(
    q: torch.Tensor, e: torch.Tensor, p: torch.Tensor, u: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient of the objective in ``z`` (batch, asset) and ``c`` (batch,)."""
    pu = 2.0 * p * u
    return torch.einsum("bt,btn->bn", pu, e) - q, -pu.sum(-1)


def _hessian(
    e: torch.Tensor, delta: torch.Tensor, p: torch.Tensor, a: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """Exact Hessian in ``(z, c)``, shape (batch, asset + 1, asset + 1).

    ``sum_t p_t grad^2 r_t`` plus ``J' D J`` with ``J = dr/d(z, c)`` and ``D = dp/dr``,
    which is a diagonal plus a rank-two matrix.
    """
    t = p.shape[-1]
    ext = torch.cat([e, -torch.ones_like(e[..., :1])], -1)
    sq = (a * a).sum(-1, keepdim=True)
    w = a.sum(-1, keepdim=True) - ((1.0 - delta / 2) ** 2)[:, None] * t * a
    v = w * a * a
    v = v / v.sum(-1, keepdim=True)
    cube = a**3
    k = 8.0 / sq
    diag = 2.0 * p + k * u * u * cube
    h = (ext * diag[..., None]).transpose(1, 2) @ ext
    e_cube = torch.einsum("bt,btk->bk", u * cube, ext)
    e_v = torch.einsum("bt,btk->bk", u * v, ext)
    e_p = torch.einsum("bt,btk->bk", u * p, ext)
    total = cube.sum(-1, keepdim=True)
    low = (total * e_p - e_cube)[:, :, None] * e_v[:, None, :] - e_p[:, :, None] * e_cube[
        :, None, :
    ]
    h = h + k[:, :, None] * low
    return (h + h.transpose(1, 2)) / 2


def _newton_qp(
    h: torch.Tensor, gz: torch.Tensor, gc: torch.Tensor, z: torch.Tensor, settings: QPSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise the quadratic model over the simplex, ``c`` eliminated: (new z, dc)."""
    hzz, hzc, hcc = h[:, :-1, :-1], h[:, :-1, -1], h[:, -1, -1]
    reduced = hzz - hzc[:, :, None] * hzc[:, None, :] / hcc[:, None, None]
    grad = gz - hzc * (gc / hcc)[:, None]
    x = _simplex_qp(reduced, torch.einsum("bij,bj->bi", reduced, z) - grad, settings)
    dc = -(gc + (hzc * (x - z).detach()).sum(-1)) / hcc
    return x, dc


def hellinger_newton(
    mu: torch.Tensor,
    errors: torch.Tensor,
    gamma: torch.Tensor,
    delta: torch.Tensor,
    *,
    max_iter: int = 100,
    tol: float = 1e-11,
    settings: QPSettings | None = None,
) -> torch.Tensor:
    """Hellinger layer by damped Newton steps (see the module docstring).

    Parameters
    ----------
    mu
        Predictions, shape (batch, asset).
    errors
        Prediction errors, shape (batch, time, asset).
    gamma, delta
        Risk appetite and radius, shape (batch,); ``delta`` below
        :func:`newton_radius`.
    max_iter
        Newton steps before :class:`~deepalloc.errors.SolverError`.
    tol
        Stop once no weight moves by more than ``tol`` in a full step.
    settings
        QP solver settings.

    Returns
    -------
    torch.Tensor
        Weights, shape (batch, asset).
    """
    settings = settings or QPSettings()
    q, e, _ = scale_errors(gamma[:, None] * mu, errors)
    b, t, _ = e.shape
    with torch.no_grad():
        qd, ed, dd = q.detach(), e.detach(), delta.detach()
        centred = ed - ed.mean(1, keepdim=True)
        z = _simplex_qp(2.0 * centred.transpose(1, 2) @ centred / t, qd, settings)
        c = torch.einsum("btn,bn->bt", ed, z).mean(-1)
        active = torch.arange(b, device=q.device)
        for _ in range(max_iter):
            qa, ea, da = qd[active], ed[active], dd[active]
            za, ca = z[active], c[active]
            f, p, a, u = _objective(qa, ea, da, za, ca)
            gz, gc = _gradient(qa, ea, p, u)
            try:
                x, dc = _newton_qp(_hessian(ea, da, p, a, u), gz, gc, za, settings)
            except SolverError as err:  # name the samples by their place in the batch
                raise SolverError(str(err), active[err.samples].tolist()) from err
            dz = x - za
            slope = (gz * dz).sum(-1) + gc * dc
            step = torch.ones_like(f)
            for _ in range(40):
                trial = _objective(qa, ea, da, za + step[:, None] * dz, ca + step * dc)[0]
                ok = trial <= f + 1e-4 * step * slope + 4 * torch.finfo(f.dtype).eps * f.abs()
                if bool(ok.all()):
                    break
                step = torch.where(ok, step, step / 2)
            z[active] = (za + step[:, None] * dz).clamp_min(0)
            c[active] = ca + step * dc
            # converged, or no decrease left that float64 can resolve (the last step
            # below is one more Newton step); a direction that does not descend means a
            # Hessian too close to singular for this method
            flat = slope.abs() <= 16 * torch.finfo(f.dtype).eps * (1 + f.abs())
            done = (dz.abs().amax(-1) <= tol) | flat
            stuck = ~done & ((slope > 0) | ~ok)
            if bool(stuck.any()):
                bad = active[stuck].tolist()
                raise SolverError(
                    f"Hellinger layer: expected Newton steps to descend, got none for samples "
                    f"{bad[:10]} (near-singular Hessian)",
                    bad,
                )
            active = active[~done]
            if len(active) == 0:
                break
        else:
            raise SolverError(
                f"Hellinger layer: expected Newton's method to converge within {max_iter} "
                f"steps, got {len(active)} unconverged samples {active[:10].tolist()}",
                active.tolist(),
            )
        f, p, a, u = _objective(qd, ed, dd, z, c)
        h = _hessian(ed, dd, p, a, u)
    # the last step, with the gradient under autograd: the implicit-function derivative
    _, p, _, u = _objective(q, e, delta, z, c)
    gz, gc = _gradient(q, e, p, u)
    return _newton_qp(h, gz, gc, z, settings)[0]
