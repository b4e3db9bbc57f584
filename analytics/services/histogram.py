"""Time-to-first-token histograms.

Percentiles do not add up across hours, histograms do: each aggregate row keeps
the count of answers per bin, a page adds the bins of its range and reads p50 and
p95 off the sum. The answer is the upper edge of the bin the percentile falls in,
so it is exact to the bin width (100 ms below 1 s, at most 25% above).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence

# Upper edges in ms. The last bin holds everything above the last edge.
TTFT_EDGES_MS: tuple[int, ...] = (
    100, 200, 300, 400, 500, 600, 700, 800, 900, 1000,
    1200, 1400, 1600, 1800, 2000, 2500, 3000, 3500, 4000, 5000,
    6000, 7000, 8000, 10000, 12000, 15000, 20000, 30000, 60000,
)  # fmt: skip
BINS = len(TTFT_EDGES_MS) + 1


def empty() -> list[int]:
    return [0] * BINS


def bin_of(value_ms: float) -> int:
    """Index of the bin holding value: values equal to an edge belong to that edge's bin."""
    return bisect.bisect_left(TTFT_EDGES_MS, value_ms)


def add_values(hist: list[int], values: Iterable[float]) -> list[int]:
    for value in values:
        hist[bin_of(value)] += 1
    return hist


def merge(into: list[int], other: Sequence[int]) -> list[int]:
    if not into:
        into.extend(empty())
    for i, count in enumerate(other):
        into[i] += count
    return into


def percentile(hist: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) as the upper edge of its bin; None when empty.

    The overflow bin reports the last edge: "at least 60 s".
    """
    total = sum(hist)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i, count in enumerate(hist):
        seen += count
        if seen >= rank:
            return float(TTFT_EDGES_MS[min(i, len(TTFT_EDGES_MS) - 1)])
    return float(TTFT_EDGES_MS[-1])


def exact_percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of raw values (used on the few minutes anomaly detection reads)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(q * len(ordered))) - 1])
