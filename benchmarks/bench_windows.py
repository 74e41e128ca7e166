"""Time and peak memory of make_windows on 20 years x 500 assets at lookback 252.

Run: .venv/bin/python -m benchmarks.bench_windows
"""

from __future__ import annotations

from benchmarks.harness import machine, median_ms, peak_increase_mb

SETUP = """
import numpy as np, pandas as pd, torch
from deepalloc.data import make_windows
rng = np.random.default_rng(0)
frame = pd.DataFrame(rng.normal(0, 0.01, (5040, 500)),
                     index=pd.bdate_range('2000-01-03', periods=5040),
                     columns=[f'a{i}' for i in range(500)])
"""
WINDOWS = "w = make_windows(frame, lookback=252, horizon=20); x = w.x; y = w.y; b = x[:32].clone()"
COPY = "w = make_windows(frame, lookback=252, horizon=20); x = w.x.contiguous()"


def main() -> dict[str, float]:
    ns: dict[str, object] = {}
    exec(SETUP, ns)
    exec("from deepalloc.data import make_windows", ns)
    ms = median_ms(lambda: exec(WINDOWS, ns), repeat=5)
    views_mb = peak_increase_mb(SETUP, WINDOWS)
    copy_mb = peak_increase_mb(SETUP, COPY)
    data_mb = 5040 * 500 * 4 / 2**20
    print(f"machine: {machine()}")
    print(f"make_windows 5040 x 500, lookback 252: {ms:.1f} ms")
    print(f"peak increase: views {views_mb:.0f} MiB, materialised x {copy_mb:.0f} MiB")
    print(
        f"float32 data itself: {data_mb:.1f} MiB; ratio materialised/views {copy_mb / views_mb:.0f}x"
    )
    return {"ms": ms, "views_mb": views_mb, "copy_mb": copy_mb}


if __name__ == "__main__":
    main()
