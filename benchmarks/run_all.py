"""Run every benchmark and write each one's Markdown to ``benchmarks/results/``.

Each benchmark runs in its own process (thread settings, memory and native-library state
do not carry over), writes ``<name>.md`` (command, machine line and tables, ready to paste
into ``benchmarks/RESULTS.md`` under the section of the same name) and ``<name>.log``
(everything it printed). ``index.md`` lists what ran, how long it took and what failed;
one benchmark failing does not stop the others.

Run: python -m benchmarks.run_all [--quick] [--only allocators,qp_load] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import machine

# name -> module and arguments; the order is the order of RESULTS.md
BENCHMARKS: dict[str, list[str]] = {
    "windows": ["benchmarks.bench_windows"],
    "allocators": ["benchmarks.bench_allocators"],
    "qp_scaling": ["benchmarks.bench_qp_scaling"],
    "qp_load": ["benchmarks.bench_qp_load"],
    "qp_warm_start": ["benchmarks.bench_qp_warm_start"],
    "qp_robustness": ["benchmarks.bench_qp_robustness"],
    "trading_costs": ["benchmarks.bench_trading_costs"],
    "networks": ["benchmarks.bench_networks"],
    "backtest": ["benchmarks.bench_backtest"],
    "deepdow_layers": ["benchmarks.bench_deepdow", "layers"],
    "deepdow_training": ["benchmarks.bench_deepdow", "training", "--threads", "1"],
    "training_parts": ["benchmarks.bench_training_parts", "--threads", "1"],
    "tcn_quality": ["benchmarks.bench_tcn_quality"],
    "tune": ["benchmarks.bench_tune"],
    "sequential": ["benchmarks.bench_sequential"],
}


def run_one(name: str, quick: bool, out: Path, extra: list[str]) -> tuple[int, float]:
    """Run benchmark ``name``; its exit code and wall time in seconds."""
    module, *args = BENCHMARKS[name]
    command = [sys.executable, "-m", module, *args, *(["--quick"] if quick else []), *extra]
    command += ["--output", str(out / f"{name}.md")]
    start = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        log.write("$ " + " ".join(command[1:]) + "\n")
        log.flush()
        code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    return code, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short settings, to check the scripts")
    parser.add_argument(
        "--only", default=None, help="comma-separated names: " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--device", default=None, help="passed to the QP layer benchmarks")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"--only: expected names among {', '.join(BENCHMARKS)}, got {unknown}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        f"Benchmarks run by `python -m benchmarks.run_all{' --quick' if args.quick else ''}`",
        f"Machine: {machine()}",
        "",
        "| benchmark | exit code | wall s | tables |",
        "|---|---|---|---|",
    ]
    failed = 0
    for name in names:
        extra = []
        if args.device and name in ("allocators", "qp_scaling", "deepdow_layers"):
            extra = ["--device", args.device]
        print(f"running {name} ...", flush=True)
        code, seconds = run_one(name, args.quick, out, extra)
        failed += code != 0
        result = f"{name}.md" if code == 0 else f"failed, see {name}.log"
        lines.append(f"| {name} | {code} | {seconds:.0f} | {result} |")
        print(lines[-1], flush=True)
    (out / "index.md").write_text("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
