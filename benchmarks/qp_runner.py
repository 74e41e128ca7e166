"""Running the QP contenders of :mod:`benchmarks.qp_contenders` safely, for the benchmarks.

A contender may crash (an exception: recorded, the run goes on) or hang inside a native
library (qpth's batched LU under oneMKL with two threads, see the lead's SOLVERS notes),
which no ``try`` can catch. Contenders in ``ISOLATED`` are therefore first run once in
a child process with a time limit: one that dies or hangs there is reported and not run
in this process. The failure is intermittent (qpth at 32 x 250 with 2 threads crashed
in one probe and ran in the next), so a probe that passes does not rule it out.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterable

import torch

from benchmarks.qp_contenders import (
    CPU_ONLY,
    FACTORIES,
    Problem,
    Solve,
    available,
    forward_backward,
)

ISOLATED = frozenset({"qpth"})

_PROBE = """
import torch
from benchmarks.qp_contenders import FACTORIES, forward_backward, make_problem
torch.set_num_threads({threads})
problem = make_problem({batch}, {n}, seed={seed}).to({device!r})
forward_backward(FACTORIES[{name!r}](problem), problem)
print("ok")
"""


def probe(name: str, batch: int, n: int, seed: int, device: str, timeout_s: float) -> str | None:
    """Run ``name`` once in a child process: ``None`` if it worked, else what went wrong."""
    code = _PROBE.format(
        threads=torch.get_num_threads(), batch=batch, n=n, seed=seed, device=device, name=name
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return f"hung: no result after {timeout_s:.0f} s (child process killed)"
    if done.returncode == 0 and done.stdout.strip().endswith("ok"):
        return None
    lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines() if ln.strip()]
    native = [ln for ln in lines if "MKL" in ln]
    parts = [*native[:1], *(lines[-1:] if lines and lines[-1] not in native[:1] else [])]
    return "; ".join([*(p[:160] for p in parts), f"exit code {done.returncode}"])


def build(
    names: Iterable[str],
    problem: Problem,
    *,
    device: str,
    seed: int,
    probe_timeout_s: float = 300.0,
) -> tuple[dict[str, Solve], dict[str, str]]:
    """Solvers for ``names`` on ``problem``, and why the others were left out."""
    solves: dict[str, Solve] = {}
    skipped: dict[str, str] = {}
    for name in names:
        why = available(name)
        if why is None and device != "cpu" and name in CPU_ONLY:
            why = "CPU only"
        if why is None and name in ISOLATED:
            why = probe(name, problem.batch, problem.n, seed, device, probe_timeout_s)
        if why is None:
            try:
                solves[name] = FACTORIES[name](problem)
            except Exception as exc:
                why = f"{type(exc).__name__}: {exc}"
        if why is not None:
            skipped[name] = why
    return solves, skipped


def work(solve: Solve, problem: Problem) -> Callable[[], object]:
    """One timed unit: forward + backward of ``solve`` on ``problem``."""
    return lambda: forward_backward(solve, problem)
