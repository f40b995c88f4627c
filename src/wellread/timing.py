"""Timing loops: untimed warm-up calls, then timed repeats (a fixed count, a minimum duration, or both).

Every speed figure wellread reports (`wellread bench`, the recipe's evaluate stage, the length search's latency)
comes from these two functions; callers reduce the per-call seconds as they need (the best, the mean, percentiles).

    seconds = time_calls(lambda: model(batch), warmup=2, repeats=5, seconds=2.0)     # >= 5 calls and >= 2 s
    short, full = time_interleaved([run_short, run_full], warmup=1, repeats=3)       # short, full, short, full, ...
    best_short, best_full = min(short), min(full)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

__all__ = ["time_calls", "time_interleaved"]


def time_interleaved(calls: Sequence[Callable[[], object]], *, warmup: int = 0, repeats: int = 1,
                     seconds: float = 0.0) -> list[list[float]]:
    """Seconds per call of each of `calls`, run in turn: each round runs every call once, in order.

    `warmup` untimed rounds come first; timed rounds go on until there are at least `repeats` of them and at
    least `seconds` have passed since the first began. Alternating keeps load from other work on the machine
    from favouring one call: it hits all of them alike.
    """
    for _ in range(warmup):
        for call in calls:
            call()
    times: list[list[float]] = [[] for _ in calls]
    start = time.perf_counter()
    rounds = 0
    while rounds < repeats or time.perf_counter() - start < seconds:
        for call, record in zip(calls, times, strict=True):
            t0 = time.perf_counter()
            call()
            record.append(time.perf_counter() - t0)
        rounds += 1
    return times


def time_calls(call: Callable[[], object], *, warmup: int = 0, repeats: int = 1, seconds: float = 0.0) -> list[float]:
    """Seconds per call of `call`: `warmup` untimed calls, then timed ones until there are at least `repeats` and
    at least `seconds` have passed."""
    return time_interleaved([call], warmup=warmup, repeats=repeats, seconds=seconds)[0]
