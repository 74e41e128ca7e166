"""The numba kernels of :mod:`deepalloc.allocators.qp_compiled` (this module imports
numba; it is imported on first use of the compiled solver only).

One sample at a time, in float64, with scratch arrays allocated once per batch. The
constants (slacks, power steps, jitter) are those of the vectorised solver's modules.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from deepalloc.allocators.qp_compiled import CONVERGED, SINGULAR, UNCONVERGED
from deepalloc.allocators.qp_kkt import CHOLESKY_RETRY_JITTER
from deepalloc.allocators.qp_solver import BOUND_SLACK
from deepalloc.allocators.qp_warm import BOUND_NEAR, POWER_INFLATION, POWER_STEPS

FREE, LOWER, UPPER = 0, 1, 2
TINY = float(np.finfo(np.float64).tiny)

_jit = njit(cache=True, nogil=True)


@_jit
def _moved(z, lo, up, kink, width, tau, i):
    """Coordinate ``i`` of the projection for the threshold ``tau``:
    ``clip(z - tau, lo, up)``, with kinks ``clip(kink + soft(z - tau - kink, width),
    lo, up)`` (``kink is None``: no kinks; numba compiles each case on its own)."""
    u = z[i] - tau
    if kink is not None:
        d = u - kink[i]
        u = kink[i] + max(d - width[i], 0.0) + min(d + width[i], 0.0)
    return min(max(u, lo[i]), up[i])


@_jit
def _moved_sum(z, lo, up, kink, width, tau):
    s = 0.0
    for i in range(z.shape[0]):
        s += _moved(z, lo, up, kink, width, tau, i)
    return s


@_jit
def _project(z, lo, up, kink, width, total, breaks, out):
    """:class:`~deepalloc.allocators.qp_warm.GroupProjector` for one sample:
    ``out_i = _moved(tau)`` with ``sum(out) = total``. The sum is piecewise linear and
    non-increasing in ``tau`` with breakpoints ``z - up``, ``z - lo`` (with kinks
    ``z - up - width``, ``z - lo + width`` and ``z - kink -+ width``); bisection over the
    sorted breakpoints finds the piece where it crosses ``total``, on which ``tau`` is
    exact by interpolation. O(n log n)."""
    n = z.shape[0]
    count = 2 * n
    if kink is None:
        for i in range(n):
            breaks[i] = z[i] - up[i]
            breaks[n + i] = z[i] - lo[i]
    else:  # the soft threshold shifts the clipping points by the width
        for i in range(n):
            breaks[i] = z[i] - up[i] - width[i]
            breaks[n + i] = z[i] - lo[i] + width[i]
            breaks[2 * n + i] = z[i] - kink[i] - width[i]
            breaks[3 * n + i] = z[i] - kink[i] + width[i]
        count = 4 * n
    points = breaks[:count]
    points.sort()
    a, b = 0, count - 1
    ga = _moved_sum(z, lo, up, kink, width, points[a])
    gb = _moved_sum(z, lo, up, kink, width, points[b])
    while b - a > 1:
        m = (a + b) // 2
        gm = _moved_sum(z, lo, up, kink, width, points[m])
        if gm >= total:
            a, ga = m, gm
        else:
            b, gb = m, gm
    tau = points[a]
    if ga > gb:
        tau += (ga - total) * (points[b] - points[a]) / (ga - gb)
    for i in range(n):
        out[i] = _moved(z, lo, up, kink, width, tau, i)


@_jit
def _matvec(p, v, out):
    """``out = P v`` for symmetric ``P``, as ``sum_j v_j P[j, :]``: the inner loop has no
    reduction, so it vectorises (a row-by-row dot product would not, without
    reordering its sum)."""
    n = v.shape[0]
    out[:] = 0.0
    for j in range(n):
        vj = v[j]
        row = p[j]
        for i in range(n):
            out[i] += vj * row[i]


@_jit
def _largest_eigenvalue(p, v, w):
    """:func:`~deepalloc.allocators.qp_warm.largest_eigenvalue` of one matrix."""
    n = v.shape[0]
    v[:] = 1.0
    for _ in range(POWER_STEPS):
        _matvec(p, v, w)
        norm = max(math.sqrt(np.dot(w, w)), TINY)
        for i in range(n):
            v[i] = w[i] / norm
    _matvec(p, v, w)
    trace = 0.0
    for i in range(n):
        trace += p[i, i]
    return max(min(POWER_INFLATION * np.dot(v, w), trace), TINY)


@_jit
def _pattern(x, near_lo, near_up, kink, near, out):
    """1 at the lower bound, -1 at the upper bound, 0 free, plus 2 at a kink; whether
    ``out`` was already that pattern."""
    same = True
    for i in range(x.shape[0]):
        code = (1 if x[i] <= near_lo[i] else 0) - (1 if x[i] >= near_up[i] else 0)
        if kink is not None and abs(x[i] - kink[i]) <= near[i]:
            code += 2
        same = same and code == out[i]
        out[i] = code
    return same


@_jit
def _release(state, utility, deficit):
    """:func:`~deepalloc.allocators.qp_kkt.keep_one_free` for one group: when every
    coordinate is bound, free the most useful one at its lower bound if the group is
    short of its budget (or none is at its upper bound), else the least useful one at
    its upper bound."""
    n = state.shape[0]
    best, best_u, worst, worst_u, any_upper = 0, -np.inf, 0, np.inf, False
    for i in range(n):
        if state[i] == FREE:
            return
        if state[i] == LOWER and utility[i] > best_u:
            best, best_u = i, utility[i]
        if state[i] == UPPER:
            any_upper = True
            if utility[i] < worst_u:
                worst, worst_u = i, utility[i]
    state[best if deficit > 0 or not any_upper else worst] = FREE


@_jit
def _release_kinked(state, above, utility, kappa, deficit):
    """:func:`~deepalloc.allocators.qp_kkt.keep_one_free_kinked` for one group, on
    segment sets (a coordinate at its kink is ``UPPER`` and not ``above``): when every
    coordinate is bound, free the most useful one that can rise if the group is short
    of its budget (a kink released upwards moves to the segment above), else the least
    useful one that can fall."""
    n = state.shape[0]
    rise_i, rise_v, fall_i, fall_v = 0, -np.inf, 0, np.inf
    for i in range(n):
        if state[i] == FREE:
            return
        at_kink = state[i] == UPPER and not above[i]
        rise = -np.inf
        if state[i] == LOWER:
            rise = utility[i] + kappa[i]
        elif at_kink:
            rise = utility[i] - kappa[i]
        fall = np.inf
        if state[i] == UPPER and above[i]:
            fall = utility[i] - kappa[i]
        elif at_kink:
            fall = utility[i] + kappa[i]
        if rise > rise_v:
            rise_i, rise_v = i, rise
        if fall < fall_v:
            fall_i, fall_v = i, fall
    use_rise = (deficit > 0 and rise_v > -np.inf) or not fall_v < np.inf
    pick = rise_i if use_rise else fall_i
    if use_rise and state[pick] == UPPER and not above[pick]:
        above[pick] = True
    state[pick] = FREE


@_jit
def _release_groups(state, utility, deficits):
    """:func:`_release` in each contiguous group, with its own deficit."""
    groups = deficits.shape[0]
    size = state.shape[0] // groups
    for g in range(groups):
        a, b = g * size, (g + 1) * size
        _release(state[a:b], utility[a:b], deficits[g])


@_jit
def _release_kinked_groups(state, above, utility, kappa, deficits):
    """:func:`_release_kinked` in each contiguous group, with its own deficit."""
    groups = deficits.shape[0]
    size = state.shape[0] // groups
    for g in range(groups):
        a, b = g * size, (g + 1) * size
        _release_kinked(state[a:b], above[a:b], utility[a:b], kappa[a:b], deficits[g])


@_jit
def _project_groups(z, lo, up, kink, width, totals, breaks, out):
    """:func:`_project` of each contiguous group onto its own budget."""
    groups = totals.shape[0]
    size = z.shape[0] // groups
    for g in range(groups):
        a, b = g * size, (g + 1) * size
        if kink is None:
            _project(z[a:b], lo[a:b], up[a:b], None, None, totals[g], breaks, out[a:b])
        else:
            _project(z[a:b], lo[a:b], up[a:b], kink[a:b], width[a:b], totals[g], breaks, out[a:b])


@_jit
def _cholesky(m, k):
    """Lower Cholesky factor of ``m[:k, :k]`` in place; False if not positive definite."""
    for j in range(k):
        s = m[j, j]
        for c in range(j):
            s -= m[j, c] * m[j, c]
        if not s > 0.0:
            return False
        d = math.sqrt(s)
        m[j, j] = d
        for i in range(j + 1, k):
            s = m[i, j]
            for c in range(j):
                s -= m[i, c] * m[j, c]
            m[i, j] = s / d
    return True


@_jit
def _cho_solve(m, k, b):
    """``b[:k] = (L L')^-1 b[:k]`` for the factor ``L = m[:k, :k]``."""
    for i in range(k):
        s = b[i]
        for c in range(i):
            s -= m[i, c] * b[c]
        b[i] = s / m[i, i]
    for i in range(k - 1, -1, -1):
        s = b[i]
        for c in range(i + 1, k):
            s -= m[c, i] * b[c]
        b[i] = s / m[i, i]


@_jit
def _group(i, size, groups):
    """The budget group of coordinate ``i`` (no division with one group)."""
    return 0 if groups == 1 else i // size


@_jit
def _solve_working_set(p, q, lo, up, totals, state, x, nu, idx, m, z, y):
    """Minimiser with the bound coordinates of ``state`` held at their bounds and every
    group's budget met (``totals``: one per contiguous group), into ``x``, and the
    budget multipliers into ``nu`` (groups,); ``y`` is scratch (groups, n). Returns
    whether ``P`` was positive definite on the free coordinates (after one retry with
    jitter, as :func:`~deepalloc.allocators.qp_kkt._cholesky`)."""
    n = x.shape[0]
    groups = totals.shape[0]
    size = n // groups
    budget0 = totals[0]  # one group: a number (no array allocated per solve)
    budget = totals.copy() if groups > 1 else totals
    k = 0
    for i in range(n):
        if state[i] == FREE:
            idx[k] = i
            k += 1
            x[i] = 0.0
        else:
            x[i] = lo[i] if state[i] == LOWER else up[i]
            if groups == 1:
                budget0 -= x[i]
            else:
                budget[i // size] -= x[i]
    for attempt in range(2):
        for a in range(k):
            i = idx[a]
            for c in range(k):
                m[a, c] = p[i, idx[c]]
        if attempt == 1:
            mean_diag = 0.0
            for i in range(n):
                mean_diag += p[i, i]
            for a in range(k):
                m[a, a] += CHOLESKY_RETRY_JITTER * mean_diag / n
        if _cholesky(m, k):
            break
        if attempt == 1:
            return False
    for a in range(k):
        i = idx[a]
        s = q[i]
        for j in range(n):
            if state[j] != FREE:
                s -= p[i, j] * x[j]
        z[a] = s
        for g in range(groups):
            y[g, a] = 1.0 if _group(i, size, groups) == g else 0.0
    _cho_solve(m, k, z)
    for g in range(groups):
        _cho_solve(m, k, y[g])
    if groups == 1:
        sum_y, sum_z = 0.0, 0.0
        for a in range(k):
            sum_y += y[0, a]
            sum_z += z[a]
        nu[0] = (sum_z - budget0) / sum_y
        sum_x = 0.0
        for a in range(k):
            z[a] -= y[0, a] * nu[0]
            sum_x += z[a]
        # one refinement step on the budget row, as ReducedKKT.finish
        correction = (budget0 - sum_x) / sum_y
        for a in range(k):
            x[idx[a]] = z[a] + y[0, a] * correction
        return True
    # several groups: the (groups x groups) Schur complement A_F P_FF^-1 A_F', positive
    # definite since every group keeps a free coordinate
    schur = np.zeros((groups, groups))
    resid = -budget
    for a in range(k):
        g = idx[a] // size
        resid[g] += z[a]
        for h in range(groups):
            schur[g, h] += y[h, a]
    if not _cholesky(schur, groups):
        return False
    _cho_solve(schur, groups, resid)
    for g in range(groups):
        nu[g] = resid[g]
    for a in range(k):
        s = z[a]
        for g in range(groups):
            s -= y[g, a] * nu[g]
        x[idx[a]] = s
    return True


@_jit
def _group_deficits(values, totals, out):
    """``out[g] = totals[g] - sum(values)`` over each contiguous group."""
    groups = totals.shape[0]
    size = values.shape[0] // groups
    for g in range(groups):
        total = 0.0
        for i in range(g * size, (g + 1) * size):
            total += values[i]
        out[g] = totals[g] - total  # the sum first, as totals - group_sum(x)


@_jit
def _starved(state, groups):
    """Whether some contiguous group has no free coordinate
    (:func:`~deepalloc.allocators.qp_kkt.any_starved`)."""
    size = state.shape[0] // groups
    for g in range(groups):
        has_free = False
        for i in range(g * size, (g + 1) * size):
            if state[i] == FREE:
                has_free = True
                break
        if not has_free:
            return True
    return False


@_jit
def _warm_start(P, qs, lo, up, kink, kappa, totals, near_lo, near_up, near, steps, check_every, from_x, x, v, y, xn, w, width, breaks, pattern):  # fmt: skip
    """Stage 1 into ``x``: the projection of ``q / L`` (or, with ``from_x``, of ``x``),
    then up to ``steps`` FISTA steps, stopped when the pattern of bound coordinates is
    the same at two checks; with kinks, proximal steps of ``kappa |x - kink|``."""
    n = x.shape[0]
    lipschitz = _largest_eigenvalue(P, v, w)
    for i in range(n):
        y[i] = x[i] if from_x else qs[i] / lipschitz
        if kink is not None:
            width[i] = kappa[i] / lipschitz
    _project_groups(y, lo, up, kink, width, totals, breaks, x)
    v[:] = x
    t = 1.0
    _pattern(x, near_lo, near_up, kink, near, pattern)
    for step in range(1, steps + 1):
        _matvec(P, v, w)
        for i in range(n):
            y[i] = v[i] + (qs[i] - w[i]) / lipschitz
        _project_groups(y, lo, up, kink, width, totals, breaks, xn)
        t_new = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        c = (t - 1.0) / t_new
        for i in range(n):
            v[i] = xn[i] + c * (xn[i] - x[i])
            x[i] = xn[i]
        t = t_new
        if step % check_every == 0 and _pattern(x, near_lo, near_up, kink, near, pattern):
            break


@_jit
def _bound_sets(P, qs, totals, x, at_lower, at_upper, state, w, deficits):
    """``state`` from the coordinates of ``x`` marked at their lower or upper bound,
    keeping one free in each group (:func:`_release`, with the utilities ``q - P x``)."""
    n = x.shape[0]
    for i in range(n):
        state[i] = LOWER if at_lower[i] and not at_upper[i] else FREE
        state[i] = UPPER if at_upper[i] and not at_lower[i] else state[i]
    if _starved(state, totals.shape[0]):
        _group_deficits(x, totals, deficits)
        _matvec(P, x, w)
        for i in range(n):
            w[i] = qs[i] - w[i]
        _release_groups(state, w, deficits)


@_jit
def _pdas(P, qs, lo, up, totals, lo_ok, up_ok, tol_scale, steps, state, new_state, x, w, grad, fixed, free, nu, deficits, idx, m, z, y):  # fmt: skip
    """Stage 2: up to ``steps`` primal-dual active-set steps from the sets ``state``;
    ``x`` and ``free`` are the last working set's solution and free coordinates
    (``fixed``: scratch). Returns the status and the steps taken."""
    n = x.shape[0]
    groups = totals.shape[0]
    size = n // groups
    for it in range(1, steps + 1):
        if not _solve_working_set(P, qs, lo, up, totals, state, x, nu, idx, m, z, y):
            return SINGULAR, it
        _matvec(P, x, w)
        residual, feasible, same = 0.0, True, True
        for i in range(n):
            grad[i] = w[i] - qs[i] + nu[_group(i, size, groups)]
            newton = x[i] - grad[i] / max(P[i, i], TINY)
            new_state[i] = LOWER if newton < lo[i] else (UPPER if newton > up[i] else FREE)
            if state[i] == FREE:
                residual = max(residual, abs(grad[i]))
            feasible = feasible and lo_ok[i] <= x[i] <= up_ok[i]
        if _starved(new_state, groups):  # such a group releases one (_release)
            for i in range(n):
                w[i] = nu[_group(i, size, groups)] - grad[i]
                fixed[i] = x[i]
                if new_state[i] != FREE:
                    fixed[i] = lo[i] if new_state[i] == LOWER else up[i]
            _group_deficits(fixed, totals, deficits)
            _release_groups(new_state, w, deficits)
        for i in range(n):
            same = same and new_state[i] == state[i]
            free[i] = state[i] == FREE
        if same and feasible and residual <= tol_scale:
            return CONVERGED, it
        state[:] = new_state
    return UNCONVERGED, steps


@_jit
def _ratio_test(state, x, target, lo, up, groups):
    """The primal step from ``x`` towards ``target``: the largest fraction ``step`` of it
    before the first free coordinate ``block`` meets ``lo`` or ``up`` (the last free
    coordinate of a group cannot move: its budget holds it); when it blocks
    (``step < 1``), ``x`` moves that far, within the bounds. Returns ``(step, block)``."""
    n = x.shape[0]
    size = n // groups
    free_count = np.zeros(groups, dtype=np.int64)
    for i in range(n):
        free_count[_group(i, size, groups)] += state[i] == FREE
    step, block = np.inf, 0
    for i in range(n):
        d = target[i] - x[i]
        if state[i] != FREE or free_count[_group(i, size, groups)] < 2 or d == 0.0:
            continue
        ratio = max(((lo[i] if d < 0 else up[i]) - x[i]) / d, 0.0)
        if ratio < step:
            step, block = ratio, i
    if step < 1.0:
        for i in range(n):
            x[i] = min(max(x[i] + step * (target[i] - x[i]), lo[i]), up[i])
    return step, block


@_jit
def _primal(P, qs, lo, up, totals, tol_scale, steps, state, x, target, w, nu, idx, m, z, y):  # fmt: skip
    """Stage 3: up to ``steps`` primal active-set steps from the feasible ``x`` and its
    sets ``state`` (:func:`~deepalloc.allocators.qp_primal.primal_active_set`). Returns
    the status and the steps taken."""
    n = x.shape[0]
    groups = totals.shape[0]
    size = n // groups
    for it in range(1, steps + 1):
        if not _solve_working_set(P, qs, lo, up, totals, state, target, nu, idx, m, z, y):
            return SINGULAR, it
        step, block = _ratio_test(state, x, target, lo, up, groups)
        if step < 1.0:  # the first bound met joins the set
            to_lower = target[block] < x[block]
            x[block] = lo[block] if to_lower else up[block]
            state[block] = LOWER if to_lower else UPPER
            continue
        for i in range(n):
            x[i] = min(max(target[i], lo[i]), up[i])
        # at the target: release the bound whose multiplier has the wrong sign the most
        _matvec(P, target, w)
        worst, worst_value = 0, 0.0
        for i in range(n):
            g = w[i] - qs[i] + nu[_group(i, size, groups)]
            wrong = -g if state[i] == LOWER else (g if state[i] == UPPER else 0.0)
            if wrong > worst_value or i == 0:
                worst, worst_value = i, wrong
        if worst_value <= tol_scale:
            return CONVERGED, it
        state[worst] = FREE
    return UNCONVERGED, steps


@_jit
def _kinked_sets(P, qs, totals, kink, kappa, x, at_lower, at_upper, at_kink, state, above, w, deficits):  # fmt: skip
    """Segment sets of ``x`` (:mod:`deepalloc.allocators.qp_kinks`) from the coordinates
    marked at their lower bound, upper bound or kink: a kink is the upper end of the
    segment below it; one coordinate per group is released if all are bound."""
    n = x.shape[0]
    for i in range(n):
        lower_end = at_lower[i] and not at_kink[i]
        upper_end = (at_upper[i] and not at_kink[i]) or at_kink[i]
        state[i] = LOWER if lower_end else (UPPER if upper_end else FREE)
        above[i] = x[i] > kink[i] and not at_kink[i]
    if _starved(state, totals.shape[0]):
        _group_deficits(x, totals, deficits)
        _matvec(P, x, w)
        for i in range(n):
            w[i] = qs[i] - w[i]
        _release_kinked_groups(state, above, w, kappa, deficits)


@_jit
def _segments(qs, lo, up, kink, kappa, above, qv, lov, upv):
    """The plain box QP on the current segments: below its kink a coordinate lives in
    ``[lower, kink]`` with linear term ``q + kappa``, above it in ``[kink, upper]`` with
    ``q - kappa``."""
    for i in range(qs.shape[0]):
        if above[i]:
            qv[i], lov[i], upv[i] = qs[i] - kappa[i], kink[i], up[i]
        else:
            qv[i], lov[i], upv[i] = qs[i] + kappa[i], lo[i], kink[i]


@_jit
def _pdas_kinked(P, qs, lo, up, kink, kappa, totals, slack, tol_scale, steps, state, above, new_state, new_above, x, w, fixed, qv, lov, upv, free, nu, deficits, idx, m, z, y):  # fmt: skip
    """Stage 2 with kinks (:func:`~deepalloc.allocators.qp_kinks.kinked_pdas_step`): the
    next sets from where the Newton points ``x - g / P_ii`` land against the bounds and
    the kink, widened by ``kappa / P_ii`` (``fixed``: scratch). Returns the status and
    the steps taken."""
    n = x.shape[0]
    groups = totals.shape[0]
    size = n // groups
    for it in range(1, steps + 1):
        _segments(qs, lo, up, kink, kappa, above, qv, lov, upv)
        if not _solve_working_set(P, qv, lov, upv, totals, state, x, nu, idx, m, z, y):
            return SINGULAR, it
        _matvec(P, x, w)
        residual, inside, same = 0.0, True, True
        for i in range(n):
            g = w[i] - qs[i] + nu[_group(i, size, groups)]
            inv = 1.0 / max(P[i, i], TINY)
            u, width = x[i] - g * inv, kappa[i] * inv
            below_lower, above_upper = u < lo[i] - width, u > up[i] + width
            at_kink = kink[i] - width <= u <= kink[i] + width
            # a segment of zero length (kink at a bound): its bound is the kink
            at_kink = at_kink or (below_lower and lo[i] >= kink[i])
            at_kink = at_kink or (above_upper and up[i] <= kink[i])
            new_above[i] = u > kink[i] + width and not at_kink
            if below_lower and not at_kink:
                new_state[i], fixed[i] = LOWER, lo[i]
            elif at_kink:
                new_state[i], fixed[i] = UPPER, kink[i]
            elif above_upper:
                new_state[i], fixed[i] = UPPER, up[i]
            else:
                new_state[i], fixed[i] = FREE, x[i]
            if state[i] == FREE:
                residual = max(residual, abs(g + kappa[i] if above[i] else g - kappa[i]))
            inside = inside and lov[i] - slack[i] <= x[i] <= upv[i] + slack[i]
        if _starved(new_state, groups):  # such a group releases one (_release_kinked)
            for i in range(n):
                w[i] = qs[i] - w[i]
            _group_deficits(fixed, totals, deficits)
            _release_kinked_groups(new_state, new_above, w, kappa, deficits)
        for i in range(n):
            same = same and new_state[i] == state[i] and new_above[i] == above[i]
            free[i] = state[i] == FREE
        if same and inside and residual <= tol_scale:
            return CONVERGED, it
        state[:] = new_state
        above[:] = new_above
    return UNCONVERGED, steps


@_jit
def _primal_kinked(P, qs, lo, up, kink, kappa, totals, tol_scale, steps, state, above, x, target, w, qv, lov, upv, nu, idx, m, z, y):  # fmt: skip
    """Stage 3 with kinks (:func:`~deepalloc.allocators.qp_kinks.kinked_primal_step`): a
    step may also block at a kink, and a coordinate at its kink whose smooth gradient
    leaves ``[-kappa, kappa]`` is released into the segment it moves to. Returns the
    status and the steps taken."""
    n = x.shape[0]
    groups = totals.shape[0]
    size = n // groups
    for it in range(1, steps + 1):
        _segments(qs, lo, up, kink, kappa, above, qv, lov, upv)
        if not _solve_working_set(P, qv, lov, upv, totals, state, target, nu, idx, m, z, y):
            return SINGULAR, it
        step, block = _ratio_test(state, x, target, lov, upv, groups)
        if step < 1.0:  # the segment end met joins the set; a kink is an upper end
            to_lower = target[block] < x[block]
            end = lov[block] if to_lower else upv[block]
            x[block] = end
            kink_hit = end == kink[block]
            state[block] = LOWER if to_lower and not kink_hit else UPPER
            above[block] = above[block] and not kink_hit
            continue
        for i in range(n):
            x[i] = min(max(target[i], lov[i]), upv[i])
        _matvec(P, target, w)
        worst, worst_value, worst_up = 0, -np.inf, False
        for i in range(n):
            g = w[i] - qs[i] + nu[_group(i, size, groups)]
            down, kink_down, kink_up = -np.inf, -np.inf, -np.inf
            if state[i] == LOWER:
                down = -(g - kappa[i])
            elif state[i] == UPPER and above[i]:
                down = g + kappa[i]
            elif state[i] == UPPER:  # at its kink
                if lo[i] < kink[i]:
                    kink_down = g - kappa[i]
                if kink[i] < up[i]:
                    kink_up = -(g + kappa[i])
            wrong = max(down, kink_down, kink_up)
            if wrong > worst_value:
                worst, worst_value = i, wrong
                worst_up = kink_up >= max(down, kink_down)
        if worst_value <= tol_scale:
            return CONVERGED, it
        if worst_up:
            above[worst] = True
        state[worst] = FREE
    return UNCONVERGED, steps


@_jit
def solve_batch(
    p, q, totals, lower, upper, kinks, kappas, warm_steps, fallback_warm_steps, check_every,
    fallback_after, max_iter, tol, eps, x_out, free_out, above_out, iterations, status,
):  # fmt: skip
    """Solve every sample (see :mod:`deepalloc.allocators.qp_compiled`): ``totals``
    (batch, groups) the budgets of contiguous equal groups, with the costs
    ``kappa |x - kink|`` unless ``kinks`` is ``None``; writes ``x_out``, ``free_out``,
    ``above_out`` (with kinks), ``iterations`` and ``status`` (:data:`CONVERGED`,
    :data:`UNCONVERGED` within ``max_iter``, :data:`SINGULAR`)."""
    b, n = q.shape
    groups = totals.shape[1]
    near_eps = max(BOUND_NEAR, 4.0 * eps)
    slack_eps = max(BOUND_SLACK, 10.0 * eps)
    pdas_steps = min(fallback_after, max_iter)
    x, v, y, xn, w, grad = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)  # fmt: skip
    near_lo, near_up, near, slack = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    lo_ok, up_ok, width = np.empty(n), np.empty(n), np.empty(n)
    qv, lov, upv = np.empty(n), np.empty(n), np.empty(n)
    z, yy, breaks, m = np.empty(n), np.empty((groups, n)), np.empty(4 * n), np.empty((n, n))
    nu, deficits = np.empty(groups), np.empty(groups)
    idx, state = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    new_state, pattern = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    above, new_above = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    for s in range(b):
        P, qs, lo, up, budgets = p[s], q[s], lower[s], upper[s], totals[s]
        # tests on the arguments themselves, which numba resolves when it compiles
        if kinks is None:
            kink, kappa = None, None
        else:
            kink, kappa = kinks[s], kappas[s]
        big_q, big_p = 0.0, 0.0
        for i in range(n):
            span = max(up[i] - lo[i], 0.0)
            near[i] = near_eps * (1.0 + span)
            near_lo[i], near_up[i] = lo[i] + near[i], up[i] - near[i]
            slack[i] = slack_eps * (1.0 + abs(up[i] - lo[i]))
            lo_ok[i], up_ok[i] = lo[i] - slack[i], up[i] + slack[i]
            big_q, big_p = max(big_q, abs(qs[i])), max(big_p, P[i, i])
        tol_scale = tol * (1.0 + big_q + big_p)
        _warm_start(
            P, qs, lo, up, kink, kappa, budgets, near_lo, near_up, near, warm_steps, check_every,
            False, x, v, y, xn, w, width, breaks, pattern,
        )  # fmt: skip
        at_lower, at_upper = x <= near_lo, x >= near_up
        if kinks is None:
            _bound_sets(
                P, qs, budgets, x, at_lower & ~at_upper, at_upper & ~at_lower, state, w, deficits
            )
            status[s], iterations[s] = _pdas(
                P, qs, lo, up, budgets, lo_ok, up_ok, tol_scale, pdas_steps,
                state, new_state, x, w, grad, v, free_out[s], nu, deficits, idx, m, z, yy,
            )  # fmt: skip
        else:
            at_kink = np.abs(x - kink) <= near
            _kinked_sets(
                P, qs, budgets, kink, kappa, x, at_lower & ~at_upper, at_upper & ~at_lower,
                at_kink, state, above, w, deficits,
            )  # fmt: skip
            status[s], iterations[s] = _pdas_kinked(
                P, qs, lo, up, kink, kappa, budgets, slack, tol_scale, pdas_steps, state, above,
                new_state, new_above, x, w, v, qv, lov, upv, free_out[s], nu, deficits,
                idx, m, z, yy,
            )  # fmt: skip
        if status[s] == UNCONVERGED:  # from the projected point, on the exact bounds
            _project_groups(x, lo, up, None, None, budgets, breaks, xn)
            x[:] = xn
            if kinks is None:
                _bound_sets(P, qs, budgets, x, x <= lo, (x >= up) & (x > lo), state, w, deficits)
                status[s], extra = _primal(
                    P, qs, lo, up, budgets, tol_scale, max_iter - pdas_steps,
                    state, x, xn, w, nu, idx, m, z, yy,
                )  # fmt: skip
            else:
                # proximal steps from there land exactly on kinks and bounds, so the
                # primal method starts on (nearly) the final segments (issue 21)
                _warm_start(
                    P, qs, lo, up, kink, kappa, budgets, near_lo, near_up, near,
                    fallback_warm_steps, check_every, True, x, v, y, xn, w, width, breaks,
                    pattern,
                )  # fmt: skip
                _kinked_sets(
                    P, qs, budgets, kink, kappa, x, x <= lo, x >= up, x == kink, state, above,
                    w, deficits,
                )  # fmt: skip
                status[s], extra = _primal_kinked(
                    P, qs, lo, up, kink, kappa, budgets, tol_scale, max_iter - pdas_steps,
                    state, above, x, xn, w, qv, lov, upv, nu, idx, m, z, yy,
                )  # fmt: skip
            iterations[s] += extra
            for i in range(n):
                free_out[s, i] = state[i] == FREE
        x_out[s] = x
        if kinks is not None:
            above_out[s] = above


@_jit
def solve_on_free_sets(p, rhs, budgets, free, x_out, nu_out, status):
    """For every sample, solve the KKT system ``[P_FF A_F'; A_F 0] [x_F; nu] =
    [rhs_F; budgets]`` (``A`` the contiguous groups of ``budgets``, (batch, groups))
    with ``x`` zero off the free set ``free`` (the backward pass's adjoint system);
    writes ``x_out``, ``nu_out`` (batch, groups) and ``status`` (:data:`SINGULAR` where
    the system is singular)."""
    b, n = rhs.shape
    zeros = np.zeros(n)
    idx, state = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    m, z, y = np.empty((n, n)), np.empty(n), np.empty((budgets.shape[1], n))
    for s in range(b):
        for i in range(n):
            state[i] = FREE if free[s, i] else LOWER  # held at zero
        ok = _solve_working_set(
            p[s], rhs[s], zeros, zeros, budgets[s], state, x_out[s], nu_out[s], idx, m, z, y
        )
        status[s] = CONVERGED if ok else SINGULAR
