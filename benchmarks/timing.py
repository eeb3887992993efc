"""Timing shared by the benchmark scripts: alternated runs, medians."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

#: seconds to wait before each timed run: OpenBLAS's and OpenMP's worker threads keep spinning for
#: a while after a call and would take the cores from whatever runs next
COOLDOWN = 0.25


def alternate(runs: dict[str, Callable[[], None]], repeats: int, pause: float = COOLDOWN) -> dict[str, float]:
    """Median seconds of each callable, run in turns (a, b, a, b, ...) after one warm-up each.

    Alternating spreads any change in machine load over all contenders alike; the ``pause``
    (seconds, default ``COOLDOWN``) before each run keeps one framework's spinning threads from
    slowing the other.  ``pause=0`` runs them back to back, as a user's training loop does.
    """
    for run in runs.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            if pause > 0:
                time.sleep(pause)
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
