"""Small statistics helpers shared by the runner and the report.

Pure functions over plain lists, so the report's arithmetic can be tested without a server.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence

__all__ = ["peak_per_second", "percentile", "subsample", "summary"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100, nearest rank) of sorted ``values``, or ``None`` if empty.

    Nearest rank rather than interpolation: every figure reported is one that was measured.
    """
    if not values:
        return None
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def summary(values: Iterable[float]) -> dict[str, float | int | None]:
    """Count, p50, p95, p99 and max of ``values`` (milliseconds), over every value."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": percentile(ordered, 50),
        "p95": percentile(ordered, 95),
        "p99": percentile(ordered, 99),
        "max": ordered[-1] if ordered else None,
    }


def subsample(pairs: Sequence[tuple[float, float]], limit: int, seed: int) -> list[list[float]]:
    """At most ``limit`` of ``pairs`` as ``[t, value]`` lists, in time order.

    The plots need a bounded JSON, not every answer of a 30,000-answer run; a seeded random
    subsample keeps the shape of the distribution and makes two runs' files comparable.
    """
    chosen = list(pairs) if len(pairs) <= limit else random.Random(seed).sample(list(pairs), limit)
    chosen.sort()
    return [[round(t, 4), round(v, 3)] for t, v in chosen]


def peak_per_second(times_s: Iterable[float]) -> int:
    """The largest number of ``times_s`` (seconds since some start) in one 1-second bucket."""
    buckets: dict[int, int] = {}
    for t in times_s:
        key = math.floor(t)
        buckets[key] = buckets.get(key, 0) + 1
    return max(buckets.values(), default=0)
