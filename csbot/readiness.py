"""Whether this web process is ready to serve at full speed: the readiness probe's answer.

A process takes connections as soon as daphne listens, but for its first seconds
it is still loading what every question needs (csbot/warm.py: jieba's dictionary
and the knowledge index, in its warm-up thread) and its helper processes are
setting up (csbot/helper_pool.py); meanwhile their calls run in its threads,
which compete with the event loop for the GIL. On a slow 2-core machine that
took about 5 s after the port opened, and a burst of players sent to the
process meanwhile waited a second for first tokens (docs/benchmarks-history.md,
"The tenth round"). A load balancer, a
rolling deploy or the benchmark sends players once this says ready; /healthz
only says the process is alive.

Nor is a process ready while it can't reach its database or Redis
(csbot/dependencies.py): each probe looks, and the log says when that changes, and why.
The probe's body says only whether the process is ready and, if not, which checks failed
(`{"ready": false, "failed": ["redis"]}`): anyone who can reach it reads it, and the
driver's words name hosts, users and paths, the helper count sizes the machine, and whether
Redis is configured tells how it is deployed. Those go to the log, when they change.
Nor once it is stopping (SIGTERM: chat/streaming/lifecycle.py): it lets its
answers finish but takes no new question, so the balancer should send players
elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from django.conf import settings

from chat.streaming.jobs import registry
from csbot import helper_pool
from csbot.dependencies import OK, DependencyState, database_state, redis_state
from csbot.warm import warmed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    warm: bool  # this process's warm-up has finished (or is turned off: WARM_UP_ON_START)
    helpers_ready: int
    helpers: int
    database: str  # "ok", "unreachable" or "not_migrated" (csbot/dependencies.py)
    redis: str | None  # "ok" or "unreachable"; None without REDIS_URL
    stopping: bool  # SIGTERM came: finishing its answers, taking no new question
    why: dict[str, str] = field(default_factory=dict)  # each failed check's detail: the log's, never the body's

    @property
    def failed(self) -> list[str]:
        """The checks that failed, by name only: all a balancer (or a person reading its
        status page) needs to act on; the rest is in the log."""
        failed = [] if self.warm else ["warm_up"]
        failed += ["helpers"] if self.helpers_ready < self.helpers else []
        failed += {"unreachable": ["database"], "not_migrated": ["migrations"]}.get(self.database, [])
        failed += ["redis"] if self.redis not in (None, "ok") else []
        return failed + (["stopping"] if self.stopping else [])

    @property
    def ready(self) -> bool:
        # Derived, not stored: one rule says what failed, so the status and the body agree.
        return not self.failed

    def as_dict(self) -> dict:
        """The probe's body: for anyone who can reach it, so nothing of the configuration."""
        return {"ready": True} if self.ready else {"ready": False, "failed": self.failed}


# What the last probe found unreachable, so that the log says when it changes, not at every probe.
_last_unreachable: dict[str, str] = {}


async def readiness() -> Readiness:
    """Ready: warmed up, every helper set up, and the database and Redis answering. A
    helper being replaced after a crash makes the process not ready for its set-up's
    second or two: it serves meanwhile, at less than its capacity."""
    warm = warmed() or not settings.WARM_UP_ON_START
    (helpers_ready, helpers), database, redis = await asyncio.gather(
        helper_pool.count_ready(), database_state(), redis_state()
    )
    checks: dict[str, DependencyState] = {"database": database, **({"redis": redis} if redis else {})}
    why = {name: check.detail for name, check in checks.items() if check.status != OK}
    stopping = registry().stopping
    state = Readiness(warm, helpers_ready, helpers, database.status, redis.status if redis else None, stopping, why)
    _log_change(why)
    _log_start_up(state)
    return state


_NAMES = {"database": "the database", "redis": "Redis"}


def _log_change(unreachable: dict[str, str]) -> None:
    global _last_unreachable
    for name, why in unreachable.items():
        if _last_unreachable.get(name) != why:
            log.warning("not ready: %s can't be reached: %s", _NAMES[name], why)
    for name in _last_unreachable.keys() - unreachable.keys():
        log.info("%s can be reached again", _NAMES[name])
    _last_unreachable = unreachable


# What the last probe found of this process's own start-up, so the log says when it changes.
_last_start_up: tuple | None = None


def _log_start_up(state: Readiness) -> None:
    """The helper count and warm-up, which the probe's body no longer shows, once a change."""
    global _last_start_up
    now = (state.warm, state.helpers_ready, state.helpers, state.stopping)
    if now == _last_start_up:
        return
    _last_start_up = now
    log.info(
        "readiness: %s, %d of %d helper processes set up%s",
        "warmed up" if state.warm else "warming up",
        state.helpers_ready,
        state.helpers,
        ", stopping" if state.stopping else "",
    )
