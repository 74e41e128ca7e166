"""The Costa & Iyengar layers and reproduction: accuracy, speed, and where the time goes.

Part ``layers``: on the paper's data (32 decision weeks of the first training period,
104 least-squares prediction errors of 20 assets each, the paper's initial gamma and
delta), the weights of each layer on its fast path and on the conic path at its
default settings (cvxpylayers: diffcp + SCS at 1e-10, dense derivatives) against
Clarabel at tight tolerance, the agreement of their gradients, and forward + backward
time per batch of 32 (medians of paired rounds fast, conic, fast, conic, ... after a
warm-up, with the range of the per-round ratios).

Part ``reproduction``: ``examples/costa_iyengar.main()`` under cProfile: wall and CPU
time per system and per training (printed as it goes), the table, and the share of the
wall time spent in cvxpylayers (calls into ``cvxpylayers``).

Run: .venv/bin/python -m benchmarks.bench_costa_iyengar [--part layers|reproduction]
[--systems equal_weight ... dr]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
import warnings

import cvxpy as cp
import numpy as np
import torch

from benchmarks.harness import machine
from deepalloc.allocators import HellingerDRAllocator, NominalAllocator, TVDRAllocator
from deepalloc.allocators.robust_fast import scale_errors
from examples import costa_iyengar as ci

TIGHT = {"solver": "CLARABEL", "tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11}


def paper_batch(batch: int = 32) -> tuple[torch.Tensor, ...]:
    """mu, errors of least-squares predictions on ``batch`` weeks of the first training
    period, and the paper's initial gamma and delta."""
    assets, factors = ci.load()
    features = torch.tensor(factors.to_numpy()[:-1])
    returns = torch.tensor(assets.to_numpy()[1:])
    end = round(len(returns) * ci.SPLIT)
    system = ci.System("nominal", features.shape[1], returns.shape[1], method="fast", tv=False)
    system.fit_least_squares(features[:end], returns[:end])
    rows = np.linspace(ci.WINDOW, end - ci.PERF - 1, batch).astype(int)
    x, y, _ = ci.windows(features, returns, rows, 0)
    with torch.no_grad():
        pred = system.pred(x)
    gamma, delta = ci.initial_parameters()
    b = len(rows)
    return (
        pred[:, -1],
        y - pred[:, :-1],
        torch.full((b,), gamma, dtype=torch.float64),
        torch.full((b,), delta, dtype=torch.float64),
    )


def clarabel(kind: str, mu: np.ndarray, e: np.ndarray, gamma: float, delta: float) -> np.ndarray:
    """The paper's problem (scaled like the layers: z is invariant), Clarabel at 1e-11."""
    t, n = e.shape
    z, c = cp.Variable(n, nonneg=True), cp.Variable()
    r = cp.square(e @ z - c)
    cons = [cp.sum(z) == 1]
    if kind == "nominal":
        obj = cp.sum(r) / t
    elif kind == "hellinger":
        lam, xi = cp.Variable(nonneg=True), cp.Variable()
        beta, tau = cp.Variable(t, nonneg=True), cp.Variable(t, nonneg=True)
        cons += [xi + lam - tau >= r]
        cons += [beta[i] >= cp.quad_over_lin(lam, tau[i]) for i in range(t)]
        obj = xi + (delta - 1) * lam + cp.sum(beta) / t
    else:
        lam, eta, beta = cp.Variable(nonneg=True), cp.Variable(), cp.Variable(t)
        cons += [beta >= -lam, beta + eta >= r, lam + eta >= r]
        obj = eta + delta * lam + cp.sum(beta) / t
    prob = cp.Problem(cp.Minimize(obj - gamma * mu @ z), cons)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(**TIGHT)
    return np.asarray(z.value)


LAYERS = {
    "nominal": (NominalAllocator(), NominalAllocator(method="cvxpylayers")),
    "hellinger": (HellingerDRAllocator(), HellingerDRAllocator(method="cvxpylayers")),
    "tv": (None, TVDRAllocator()),
}


def call(layer, kind: str, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    return layer(*inputs[:3]) if kind == "nominal" else layer(*inputs)


def fwd_bwd(layer, kind: str, inputs: tuple[torch.Tensor, ...], cot: torch.Tensor):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    w = call(layer, kind, xs)
    grads = torch.autograd.grad((w * cot).sum(), xs[:3] if kind == "nominal" else xs)
    return w.detach(), grads


def layers_part(rounds: int) -> None:
    inputs = paper_batch()
    mu, e, gamma, delta = inputs
    q, es, _ = scale_errors(gamma[:, None] * mu, e)
    cot = torch.randn(mu.shape, generator=torch.Generator().manual_seed(0), dtype=mu.dtype)
    print(
        "| layer | path | max abs(w - w_Clarabel) | gradient rel. diff. to fast | fwd+bwd ms (32) |"
    )
    print("|---|---|---|---|---|")
    for kind, (fast, conic) in LAYERS.items():
        ref = np.stack(
            [
                clarabel(kind, q[i].numpy(), es[i].numpy(), 1.0, float(delta[i]))
                for i in range(len(mu))
            ]
        )
        paths = [("fast", fast), ("cvxpylayers", conic)] if fast is not None else []
        paths = paths or [("cvxpylayers", conic)]
        results = {name: fwd_bwd(layer, kind, inputs, cot) for name, layer in paths}
        times: dict[str, list[float]] = {name: [] for name, _ in paths}
        for _ in range(rounds):
            for name, layer in paths:
                start = time.perf_counter()
                fwd_bwd(layer, kind, inputs, cot)
                times[name].append((time.perf_counter() - start) * 1e3)
        for name, _ in paths:
            w, grads = results[name]
            err = float(np.abs(w.numpy() - ref).max())
            if "fast" in results and name != "fast":
                g0 = torch.cat([g.flatten() for g in results["fast"][1]])
                g1 = torch.cat([g.flatten() for g in grads])
                rel = f"{float((g1 - g0).norm() / g0.norm()):.1e}"
            else:
                rel = "-"
            print(f"| {kind} | {name} | {err:.1e} | {rel} | {np.median(times[name]):.0f} |")
        if len(paths) == 2:
            ratios = np.array(times["cvxpylayers"]) / np.array(times["fast"])
            print(
                f"| {kind} | conic / fast | | | {np.median(ratios):.0f}x "
                f"({ratios.min():.0f}x-{ratios.max():.0f}x) |"
            )


def _layer_entry(key: tuple[str, int, str]) -> bool:
    """cvxpylayers' top-level calls: ``CvxpyLayer.forward`` and the backward passes."""
    path, line, name = key
    layer_forward = path.endswith("cvxpylayers/torch/cvxpylayer.py") and name == "forward"
    backward = "cvxpylayers/interfaces" in path and name == "backward"
    return (layer_forward and line > 300) or backward


def _timed_train(train):
    """``ci.train`` that prints the wall and CPU time of every training (progress)."""

    def timed(system, data, lr, epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        train(system, data, lr, epochs)
        print(
            f"  trained {len(data[0])} weeks x {epochs} epochs: "
            f"{time.perf_counter() - wall:.0f} s wall, {time.process_time() - cpu:.0f} s CPU",
            flush=True,
        )

    return timed


def reproduction_part(systems: tuple[str, ...]) -> None:
    """Wall time is what a run takes on this machine as loaded; CPU time (all threads of
    the process) is what it costs, nearly independent of the other load."""
    profile = cProfile.Profile()
    per_system = {}
    ci.train = _timed_train(ci.train)  # type: ignore[assignment]
    start, start_cpu = time.perf_counter(), time.process_time()
    profile.enable()
    for kind in systems:
        t0, c0 = time.perf_counter(), time.process_time()
        table = ci.main(systems=(kind,))
        per_system[kind] = (
            time.perf_counter() - t0,
            time.process_time() - c0,
            table.loc[kind],
        )
        print(
            f"{kind} done: {per_system[kind][0]:.0f} s wall, {per_system[kind][1]:.0f} s CPU",
            flush=True,
        )
    profile.disable()
    total, total_cpu = time.perf_counter() - start, time.process_time() - start_cpu
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    conic = sum(value[3] for key, value in stats.items() if _layer_entry(key))
    print("| system | wall | CPU | annual return / volatility / Sharpe (paper) |")
    print("|---|---|---|---|")
    for kind, (seconds, cpu, row) in per_system.items():
        print(
            f"| {kind} | {seconds:.0f} s | {cpu:.0f} s | {row['annual_return']:.3f} / "
            f"{row['volatility']:.3f} / {row['sharpe']:.2f} ({row['paper_annual_return']} / "
            f"{row['paper_volatility']} / {row['paper_sharpe']}) |"
        )
    print(
        f"total {total:.0f} s wall (profiled), {total_cpu:.0f} s CPU; in cvxpylayers "
        f"{conic:.1f} s wall ({conic / total:.1%})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["layers", "reproduction"], default="layers")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--systems", nargs="+", choices=ci.SYSTEMS, default=list(ci.SYSTEMS), help="reproduction"
    )
    args = parser.parse_args()
    print(machine())
    if args.part == "layers":
        layers_part(args.rounds)
    else:
        reproduction_part(tuple(args.systems))


if __name__ == "__main__":
    main()
