"""Each web process's heartbeat: how the others tell that it died with answers streaming.

An answer's row names the web process whose job streams it (`meta["runner"]`,
csbot/runner.py). A process killed outright (SIGKILL, the OOM killer, a crash) leaves
those rows `streaming`, and its players, reconnected to another process, would watch a
stuck answer until it is older than any answer can be (ANSWER_MAX_SECONDS: minutes).
So every web process writes its heartbeat (a `Runner` row) every sixth of
WEB_PROCESS_STALE_SECONDS, and the sweep of every process (chat/streaming/lifecycle.py)
fails the answers of a runner not heard from for WEB_PROCESS_STALE_SECONDS.

The database's clock stamps and judges every heartbeat, so hosts whose clocks disagree
still agree on who is silent. On the embedded default (one web process: the in-memory
channel layer reaches no other) the heartbeat is in the process: the only runner alive
is this one, and nothing is written.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import Now

from chat.models import Runner
from csbot.db import RepeatedFailure, db_pool
from csbot.runner import runner_name

log = logging.getLogger(__name__)

# A runner silent this long is long gone: its row goes (its answers were failed long ago).
FORGET_AFTER = timedelta(days=1)


def runner_beat(*, name: str) -> None:
    """Record that the web process `name` is alive, now by the database's clock."""
    if not Runner.objects.filter(name=name).update(beat_at=Now()):
        Runner.objects.create(name=name, beat_at=Now())  # its first beat: nobody else writes its row


def runners_forget() -> int:
    """Delete the rows of runners silent for FORGET_AFTER; how many."""
    return Runner.objects.filter(beat_at__lt=Now() - FORGET_AFTER).delete()[0]


def runners_alive() -> QuerySet | list[str]:
    """The names of the web processes heard from within WEB_PROCESS_STALE_SECONDS: a
    subquery on the production path, this process alone on the embedded default."""
    from chat.streaming.lifecycle import only_process

    if only_process():
        return [runner_name()]
    fresh = Now() - timedelta(seconds=settings.WEB_PROCESS_STALE_SECONDS)
    return Runner.objects.filter(beat_at__gte=fresh).values("name")


_beat = db_pool(runner_beat)
_forget = db_pool(runners_forget)


async def beat_forever() -> None:
    """Write this process's heartbeat now, then every sixth of WEB_PROCESS_STALE_SECONDS,
    for the life of the process (on the production path: nobody reads it otherwise)."""
    from chat.streaming.lifecycle import only_process

    if only_process():
        return
    try:
        await _forget()
    except Exception:
        log.exception("forgetting long-silent web processes failed")
    failures = RepeatedFailure(log, "this web process's heartbeat")
    while True:
        try:
            await _beat(name=runner_name())
        except Exception:  # the database may be away for a while: the next beat tries again
            failures.failed()
        else:
            failures.succeeded()
        await asyncio.sleep(settings.WEB_PROCESS_STALE_SECONDS / 6)
