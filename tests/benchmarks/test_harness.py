"""The paired-rounds harness: its arithmetic and its call order, on a fake clock."""

from __future__ import annotations

import itertools
import math

import pytest

from benchmarks.harness import (
    command_line,
    fmt_ratio,
    local_exponents,
    median,
    paired_rounds,
    power_law_exponent,
    ratio_summary,
    round_order,
)


class FakeClock:
    """A clock that only moves when a contender says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def work(self, name: str, seconds: float, log: list[str]):
        def call() -> None:
            log.append(name)
            self.now += seconds

        return call


def test_median_odd_even_and_unsorted() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([7.0]) == 7.0
    with pytest.raises(ValueError, match="values"):
        median([])


def test_ratio_summary_is_per_round_not_ratio_of_medians() -> None:
    # round ratios 2, 4, 1 -> median 2, range 1..4; the ratio of medians would be 3/1.5
    a = [2.0, 4.0, 3.0]
    b = [1.0, 1.0, 3.0]
    summary = ratio_summary(a, b)
    assert (summary.median, summary.low, summary.high, summary.rounds) == (2.0, 1.0, 4.0, 3)
    assert median(a) / median(b) != summary.median


def test_ratio_summary_uses_common_rounds_only() -> None:
    summary = ratio_summary([2.0, 6.0, 100.0], [1.0, 2.0])
    assert summary.rounds == 2
    assert summary.median == 2.5  # ratios 2 and 3


def test_paired_rounds_interleaves_after_warmup() -> None:
    clock = FakeClock()
    log: list[str] = []
    timed = paired_rounds(
        {"a": clock.work("a", 0.002, log), "b": clock.work("b", 0.006, log)},
        rounds=4,
        warmup=2,
        clock=clock,
    )
    # warm-up: each contender twice, untimed; then rounds in balanced orders
    assert log == ["a", "a", "b", "b"] + ["a", "b", "b", "a"] * 2
    assert timed.times["a"] == pytest.approx([2.0] * 4)
    assert timed.times["b"] == pytest.approx([6.0] * 4)
    ratio = timed.ratio("b", "a")
    assert ratio is not None
    assert ratio.median == pytest.approx(3.0)
    assert timed.errors == {}


def test_paired_rounds_repeats_fast_calls_to_fill_a_round() -> None:
    clock = FakeClock()
    log: list[str] = []
    timed = paired_rounds(
        {"fast": clock.work("fast", 0.001, log), "slow": clock.work("slow", 0.05, log)},
        rounds=2,
        warmup=1,
        min_round_ms=10.0,
        clock=clock,
    )
    assert timed.calls == {"fast": 10, "slow": 1}
    assert log.count("fast") == 1 + 2 * 10
    assert timed.times["fast"] == pytest.approx([1.0, 1.0])  # per call, not per round


def test_paired_rounds_records_a_crash_and_goes_on() -> None:
    clock = FakeClock()
    log: list[str] = []
    calls = {"n": 0}

    def flaky() -> None:
        calls["n"] += 1
        clock.now += 0.001
        if calls["n"] == 3:  # warm-up call, first round, then a crash
            raise RuntimeError("Pivots given to lu_solve must all be greater or equal to 1")

    def broken() -> None:
        raise ValueError("no solver")

    timed = paired_rounds(
        {"flaky": flaky, "ok": clock.work("ok", 0.001, log), "broken": broken},
        rounds=3,
        warmup=1,
        clock=clock,
    )
    assert len(timed.times["flaky"]) == 1
    assert len(timed.times["ok"]) == 3
    assert "RuntimeError" in timed.errors["flaky"]
    assert "ValueError: no solver" in timed.errors["broken"]
    assert timed.cell("broken").startswith("failed")
    assert math.isnan(timed.median_ms("broken"))
    assert timed.ratio("ok", "broken") is None
    assert timed.ratio_cell("ok", "broken") == "—"


def test_paired_rounds_rejects_no_rounds() -> None:
    with pytest.raises(ValueError, match="rounds"):
        paired_rounds({"a": lambda: None}, rounds=0)


def test_power_law_exponent_recovers_exact_laws() -> None:
    sizes = [10, 20, 50, 100, 500]
    for k in (1.0, 2.0, 3.0, 0.5):
        assert power_law_exponent(sizes, [0.3 * s**k for s in sizes]) == pytest.approx(k)
    assert local_exponents([10, 20, 40], [1.0, 4.0, 8.0]) == pytest.approx([2.0, 1.0])
    with pytest.raises(ValueError, match="distinct"):
        power_law_exponent([5, 5], [1.0, 2.0])


def test_fmt_ratio_and_command_line() -> None:
    assert fmt_ratio(25.4) == "25x"
    assert fmt_ratio(2.345) == "2.3x"
    assert fmt_ratio(0.123) == "0.12x"
    assert fmt_ratio(1.149) == "1.15x"
    assert str(ratio_summary([3.0, 50.0, 2.0], [1.0, 1.0, 1.0])) == "3.0x (2.0-50)"
    assert (
        command_line("benchmarks.x", ["--quick", "--output", "f.md", "--rounds", "3"])
        == "python -m benchmarks.x --quick --rounds 3"
    )


@pytest.mark.parametrize("count", [2, 3, 4, 5, 6, 7])
def test_round_orders_put_each_contender_after_each_other_equally_often(count) -> None:
    rounds = count if count % 2 == 0 else 2 * count
    follows = {}
    for r in range(rounds):
        order = round_order(count, r)
        assert sorted(order) == list(range(count))  # every contender once a round
        for before, after in itertools.pairwise(order):
            follows[before, after] = follows.get((before, after), 0) + 1
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    assert {follows.get(pair, 0) for pair in pairs} == {1 if count % 2 == 0 else 2}
