"""Timing and memory helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable

import pandas as pd
import torch


def median_ms(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in milliseconds (CUDA synchronised inside the timing)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return times[len(times) // 2]


_PEAK_SNIPPET = """
import json
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
setup = {setup!r}
work = {work!r}
ns = {{}}
exec(setup, ns)
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS:")
exec(work, ns)
print(json.dumps({{"peak_increase_mb": status("VmHWM:") - before}}))
"""


def peak_increase_mb(setup: str, work: str) -> float:
    """Increase of the peak resident memory (MiB) caused by ``work`` after ``setup``.

    Both run in a fresh Linux process; the kernel's peak-RSS counter is reset between
    them, so only memory touched by ``work`` counts.
    """
    code = _PEAK_SNIPPET.format(setup=setup, work=work)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return float(json.loads(out.strip().splitlines()[-1])["peak_increase_mb"])


def markdown_table(frame: pd.DataFrame) -> str:
    """A Markdown table of ``frame`` (numbers to three significant digits)."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def machine() -> str:
    """A one-line description of this machine and software."""
    return (
        f"{platform.machine()}, {torch.get_num_threads()} torch threads, Python "
        f"{platform.python_version()}, torch {torch.__version__}"
    )
