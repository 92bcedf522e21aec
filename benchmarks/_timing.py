"""The one timer the benchmark scripts share."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(
    f: Callable[[], object], repeats: int, sync: Callable[[], None] = lambda: None
) -> float:
    """Median wall time of ``f`` in seconds over ``repeats`` runs, after one warm-up run;
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock read."""
    f()
    sync()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        sync()
        times.append(time.perf_counter() - t)
    return statistics.median(times)
