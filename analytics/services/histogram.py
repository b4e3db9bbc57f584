"""Time-to-first-token histograms.

Percentiles do not add up across hours, histograms do: each aggregate row keeps
the count of answers per bin, a page adds the bins of its range and reads p50 and
p95 off the sum (`percentile`). The bins are 10 ms wide up to 2 s, where nearly
every answer starts, and at most 5% of their value wide above: with the 100 ms
bins csbot had first, a p50 stood at 900 ms day after day while the answers moved
between 800 and 900.

A row stores only its bins that hold answers, as {upper edge in ms: count}
(`stored`), so a fine histogram costs a row no more than the few bins it fills;
rows written with the first bins (a list of 30 counts) are read as counts at
their bins' upper edges, the value they reported (`dense`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from typing import Any

# Upper edges in ms. The last bin holds everything above the last edge.
TTFT_EDGES_MS: tuple[int, ...] = (
    *range(10, 2001, 10),
    *range(2050, 5001, 50),
    *range(5100, 10001, 100),
    *range(10500, 30001, 500),
    *range(31000, 60001, 1000),
)
BINS = len(TTFT_EDGES_MS) + 1
OVERFLOW = "inf"

# The edges rows were first written with, as a list of 31 counts.
_FIRST_EDGES_MS: tuple[int, ...] = (
    100, 200, 300, 400, 500, 600, 700, 800, 900, 1000,
    1200, 1400, 1600, 1800, 2000, 2500, 3000, 3500, 4000, 5000,
    6000, 7000, 8000, 10000, 12000, 15000, 20000, 30000, 60000,
)  # fmt: skip


def empty() -> list[int]:
    return [0] * BINS


def bin_of(value_ms: float) -> int:
    """Index of the bin holding value: values equal to an edge belong to that edge's bin."""
    return bisect.bisect_left(TTFT_EDGES_MS, value_ms)


def add_values(hist: list[int], values: Iterable[float]) -> list[int]:
    for value in values:
        hist[bin_of(value)] += 1
    return hist


def stored(hist: Sequence[int]) -> dict[str, int]:
    """The histogram as a row keeps it: the count of each bin that holds answers, by its upper edge."""
    return {_edge_key(i): count for i, count in enumerate(hist) if count}


def dense(value: Any) -> list[int]:
    """A stored histogram (`stored`, or a list of counts per bin of the first edges) as counts per bin."""
    hist = empty()
    if isinstance(value, dict):
        for edge, count in value.items():
            hist[bin_of(float(edge))] += count
    elif value:
        edges = (*_FIRST_EDGES_MS, math.inf)
        for edge, count in zip(edges, value, strict=False):
            hist[bin_of(edge)] += count
    return hist


def _edge_key(i: int) -> str:
    return str(TTFT_EDGES_MS[i]) if i < len(TTFT_EDGES_MS) else OVERFLOW


def merge(into: list[int], other: Sequence[int]) -> list[int]:
    if not into:
        into.extend(empty())
    for i, count in enumerate(other):
        into[i] += count
    return into


def percentile(hist: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1); None when empty.

    The bin the rank falls in is taken as evenly filled: its k-th of n answers sits k / n
    of the way from the bin's lower edge to its upper one (as Prometheus reads its own).
    The overflow bin reports the last edge: "at least 60 s".
    """
    total = sum(hist)
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for i, count in enumerate(hist):
        if seen + count >= rank:
            if i >= len(TTFT_EDGES_MS):
                break
            lower = TTFT_EDGES_MS[i - 1] if i else 0
            return float(round(lower + (TTFT_EDGES_MS[i] - lower) * (rank - seen) / count))
        seen += count
    return float(TTFT_EDGES_MS[-1])


def exact_percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of raw values (used on the few minutes anomaly detection reads)."""
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[max(1, math.ceil(q * len(ordered))) - 1])
