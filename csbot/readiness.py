"""Whether this web process is ready to serve at full speed: the readiness probe's answer.

A process takes connections as soon as daphne listens, but for its first seconds
it is still loading what every question needs (csbot/warm.py: jieba's dictionary
and the knowledge index, in its warm-up thread) and its helper processes are
setting up (csbot/helper_pool.py); meanwhile their calls run in its threads,
which compete with the event loop for the GIL. On a slow 2-core machine that
took about 5 s after the port opened, and a burst of players sent to the
process meanwhile waited a second for first tokens (docs/benchmarks.md,
"The tenth round"). A load balancer, a
rolling deploy or the benchmark sends players once this says ready; /healthz
only says the process is alive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from django.conf import settings

from csbot import helper_pool
from csbot.warm import warmed


@dataclass(frozen=True)
class Readiness:
    ready: bool
    warm: bool  # this process's warm-up has finished (or is turned off: WARM_UP_ON_START)
    helpers_ready: int
    helpers: int

    def as_dict(self) -> dict:
        return asdict(self)


async def readiness() -> Readiness:
    """Ready: warmed up, and every helper set up. A helper being replaced after a crash
    makes the process not ready for its set-up's second or two: it serves meanwhile, at
    less than its capacity."""
    warm = warmed() or not settings.WARM_UP_ON_START
    helpers_ready, helpers = await helper_pool.count_ready()
    return Readiness(warm and helpers_ready == helpers, warm, helpers_ready, helpers)
