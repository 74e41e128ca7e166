"""Timing and memory helpers shared by the benchmark scripts.

Timing follows one rule: contenders are timed **interleaved, round by round**. Each
contender is first warmed up outside the timed region (several calls, so first-call,
compilation and allocation effects are not timed); then every round times each
contender once, in a fixed order (A, B, C, A, B, C, ...). Machine noise that lasts
longer than a round lands on all contenders alike, so the per-round ratio is the
steady quantity: a pair is reported as the median of its per-round ratios with their
range (min-max), each contender as its median time.

A contender that raises (a solver crash) is recorded with its error and left out of the
remaining rounds; the others go on.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch

Clock = Callable[[], float]


def median(values: Sequence[float]) -> float:
    """The median of ``values`` (the mean of the two middle values for an even count)."""
    if len(values) == 0:
        raise ValueError("values: expected at least one value, got none")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[mid])
    return float(ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class RatioSummary:
    """Per-round ratios ``numerator / denominator``: their median and range."""

    median: float
    low: float
    high: float
    rounds: int

    def __str__(self) -> str:
        low, high = (fmt_ratio(v).removesuffix("x") for v in (self.low, self.high))
        return f"{fmt_ratio(self.median)} ({low}-{high})"


def ratio_summary(numerator: Sequence[float], denominator: Sequence[float]) -> RatioSummary:
    """Median and range of the per-round ratios ``numerator[i] / denominator[i]``.

    Only rounds where both were timed count (the shorter list gives the rounds).
    """
    count = min(len(numerator), len(denominator))
    if count == 0:
        raise ValueError("numerator, denominator: expected at least one common round, got none")
    ratios = [numerator[i] / denominator[i] for i in range(count)]
    return RatioSummary(median(ratios), min(ratios), max(ratios), count)


def fmt_ratio(value: float) -> str:
    """A ratio for a table: two significant digits below 1, two decimals from 1 to 2
    (where targets such as 1.15x are judged), one decimal to 10, whole numbers above."""
    if not math.isfinite(value):
        return str(value)
    if value >= 10:
        return f"{value:,.0f}x"
    if value < 1:
        return f"{value:.2g}x"
    return f"{value:.2f}x" if value < 2 else f"{value:.1f}x"


def fmt_ms(value: float) -> str:
    """A time in milliseconds for a table (three significant digits)."""
    if not math.isfinite(value):
        return "—"
    if value >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


@dataclass
class PairedTimes:
    """Milliseconds per call of each contender, one entry per round.

    ``calls`` is how many calls each timed round made (the time is per call);
    ``errors`` names the contenders that raised and what they raised.
    """

    times: dict[str, list[float]]
    calls: dict[str, int]
    errors: dict[str, str] = field(default_factory=dict)

    def median_ms(self, name: str) -> float:
        """Median time per call of ``name`` (NaN when it never completed a round)."""
        values = self.times.get(name, [])
        return median(values) if values else float("nan")

    def ratio(self, numerator: str, denominator: str) -> RatioSummary | None:
        """Per-round ratio of two contenders' times, or ``None`` when one has no rounds."""
        a, b = self.times.get(numerator, []), self.times.get(denominator, [])
        if not a or not b:
            return None
        return ratio_summary(a, b)

    def cell(self, name: str) -> str:
        """``name``'s median for a table, or its error."""
        if name in self.errors:
            return f"failed: {self.errors[name]}"
        return fmt_ms(self.median_ms(name))

    def ratio_cell(self, numerator: str, denominator: str) -> str:
        """``numerator / denominator`` for a table: median (min-max), or a dash."""
        summary = self.ratio(numerator, denominator)
        return "—" if summary is None else str(summary)


def synchronizer(device: str | torch.device) -> Callable[[], None]:
    """A function that waits for ``device``'s queued work (a no-op on the CPU)."""
    dev = torch.device(device)
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return lambda: None


def _short_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:120]}"


def _timed(fn: Callable[[], object], calls: int, sync: Callable[[], None], clock: Clock) -> float:
    sync()
    start = clock()
    for _ in range(calls):
        fn()
    sync()
    return (clock() - start) * 1e3 / calls


def paired_rounds(
    contenders: Mapping[str, Callable[[], object]],
    *,
    rounds: int = 7,
    warmup: int = 3,
    min_round_ms: float = 0.0,
    device: str | torch.device = "cpu",
    clock: Clock = time.perf_counter,
) -> PairedTimes:
    """Time ``contenders`` interleaved: warm-up first, then ``rounds`` rounds of each.

    Parameters
    ----------
    contenders
        Name -> zero-argument callable doing one unit of work (e.g. forward + backward).
    rounds
        Timed rounds; each round times every (still running) contender once, in the
        order of a balanced Latin square (:func:`round_order`), so that over the rounds
        each contender comes right after each other one about equally often: what one
        leaves behind (a thread pool still spinning, a cold cache) does not fall on the
        same contender every round.
    warmup
        Untimed calls of each contender before the first round (at least 1).
    min_round_ms
        A contender faster than this is called several times per round, so that its
        round lasts about this long (the count comes from the median of its warm-up
        calls, so that a slow first call, which may load or compile code, does not
        leave it at one call a round); times are per call.
    device
        Device whose queue is synchronised before and after each timed round.
    clock
        Seconds as a float (``time.perf_counter``; tests pass a fake clock).

    Returns
    -------
    PairedTimes
        Per contender, ``rounds`` times in milliseconds per call (fewer if it raised).
    """
    if rounds < 1 or warmup < 1:
        raise ValueError(f"rounds, warmup: expected >= 1, got {rounds}, {warmup}")
    sync = synchronizer(device)
    result = PairedTimes(times={}, calls={})
    for name, fn in contenders.items():
        try:
            typical = median([_timed(fn, 1, sync, clock) for _ in range(warmup)])
        except Exception as exc:  # a crashing solver is a result, not the end of the run
            result.errors[name] = _short_error(exc)
            continue
        calls = 1 if typical <= 0 else max(1, math.ceil(min_round_ms / typical))
        result.calls[name] = calls
        result.times[name] = []
    names = list(result.times)
    for r in range(rounds):
        for name in (names[i] for i in round_order(len(names), r)):
            if name in result.errors:
                continue
            try:
                result.times[name].append(_timed(contenders[name], result.calls[name], sync, clock))
            except Exception as exc:
                result.errors[name] = _short_error(exc)
    return result


def round_order(count: int, r: int) -> list[int]:
    """The order of round ``r`` over ``count`` contenders: the rows of a Williams design
    (a balanced Latin square: first row 0, 1, count-1, 2, count-2, ..., row ``k`` that
    row plus ``k`` modulo ``count``). With an even count, ``count`` rows put each
    contender right after each other one exactly once; with an odd count, the rows and
    their reverses do, over ``2 count`` rounds (odd rounds run reversed)."""
    if count == 0:
        return []
    first, low, high = [0], 1, count - 1
    while len(first) < count:
        first.append(low)
        low += 1
        if len(first) < count:
            first.append(high)
            high -= 1
    row = r if count % 2 == 0 else r // 2
    order = [(i + row) % count for i in first]
    return order[::-1] if count % 2 and r % 2 else order


def power_law_exponent(sizes: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) on log(size): ``time ~ size ** exponent``."""
    if len(sizes) != len(times) or len(sizes) < 2:
        raise ValueError(
            f"sizes, times: expected two equal-length sequences of >= 2, got {len(sizes)}, "
            f"{len(times)}"
        )
    xs = [math.log(s) for s in sizes]
    ys = [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("sizes: expected at least two distinct sizes")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def local_exponents(sizes: Sequence[float], times: Sequence[float]) -> list[float]:
    """Slopes of log(time) on log(size) between consecutive sizes."""
    return [
        math.log(times[i + 1] / times[i]) / math.log(sizes[i + 1] / sizes[i])
        for i in range(len(sizes) - 1)
    ]


def median_ms(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 3) -> float:
    """Median wall time of ``fn()`` alone, in milliseconds (one contender, no pairing)."""
    return paired_rounds({"fn": fn}, rounds=repeat, warmup=warmup).median_ms("fn")


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
    """A Markdown table of ``frame`` (floats to three significant digits)."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def add_retain_memory_flag(parser: argparse.ArgumentParser) -> None:
    """``--retain-memory``: call :func:`deepalloc.training.retain_freed_memory` first."""
    parser.add_argument(
        "--retain-memory",
        action="store_true",
        help="keep freed memory in the process (deepalloc.training.retain_freed_memory)",
    )


def apply_retain_memory_flag(args: argparse.Namespace) -> str:
    """Apply ``--retain-memory``; a phrase for the machine line."""
    if not args.retain_memory:
        return "freed memory returned to the system (glibc's default)"
    from deepalloc._memory import retain_freed_memory

    if not retain_freed_memory():
        raise RuntimeError("--retain-memory: expected glibc's mallopt, got none")
    return "freed memory kept (retain_freed_memory)"


def machine() -> str:
    """A one-line description of this machine and software."""
    import os

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, Python "
        f"{platform.python_version()}, torch {torch.__version__}; {load()}"
    )


def load() -> str:
    """The machine's load averages (1, 5 and 15 minutes) now, for the record: on a shared
    machine a load above the core count means the timings ran on a busy machine."""
    import os

    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return f"load average {one:.1f} / {five:.1f} / {fifteen:.1f} (1 / 5 / 15 min)"


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces this run (``--output`` left out)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--output" in args:
        at = args.index("--output")
        del args[at : at + 2]
    return " ".join(["python -m", module, *args])


def emit(text: str, output: str | None) -> None:
    """Print ``text`` and, when ``output`` is a path, write it there too."""
    print(text, flush=True)
    if output:
        from pathlib import Path

        path = Path(output)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
