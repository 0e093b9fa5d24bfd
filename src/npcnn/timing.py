"""How npcnn times a piece of code: the median of repeated calls after a warm-up."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(f: Callable[[], object], repeat: int = 15) -> float:
    """Milliseconds of ``f()``, the median of ``repeat`` calls after one warm-up call
    (which allocates the work buffers a layer reuses)."""
    f()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


__all__ = ["median_ms"]
