"""How the benchmarks time a call: one warm-up call, then `repeat` calls; (median, 95th percentile) in ms."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any


def percentiles(timings_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(timings_ms)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


async def measure(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, float]:
    await call()  # warm up caches, connections and prepared statements
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return percentiles(timings)
