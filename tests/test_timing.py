"""The timing loops behind every speed figure: warm-up, repeats, minimum duration, alternation."""

from __future__ import annotations

import time

from wellread.timing import time_calls, time_interleaved


def test_warmup_is_untimed_and_repeats_are_counted() -> None:
    calls: list[str] = []
    times = time_calls(lambda: calls.append("x"), warmup=2, repeats=3)
    assert len(calls) == 5 and len(times) == 3 and all(t >= 0 for t in times)


def test_timed_calls_go_on_for_the_minimum_duration() -> None:
    times = time_calls(lambda: time.sleep(0.01), repeats=1, seconds=0.05)
    assert len(times) >= 4 and min(times) >= 0.009


def test_interleaved_calls_alternate_round_by_round() -> None:
    order: list[str] = []
    short, long = time_interleaved([lambda: order.append("a"), lambda: (order.append("b"), time.sleep(0.005))],
                                   warmup=1, repeats=2)
    assert order == ["a", "b"] * 3
    assert len(short) == len(long) == 2 and min(long) > max(short)
