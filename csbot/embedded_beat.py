"""The beat schedule, run by the web process itself on the embedded default.

With nothing set, Celery runs eagerly: no broker, no worker, no beat
(csbot/settings.py). A task sent with `.delay` runs inline, but nothing would
run CELERY_BEAT_SCHEDULE: a manager trying `./run.sh` would find the analytics
pages empty for good (closed chats reach them only through `aggregate_recent`),
resolutions pending, anomalies never checked.

So when Celery is eager and this is the only web process (the in-memory channel
layer reaches no other: chat/streaming/lifecycle.py), the process runs each
entry itself when it is due, as beat and a worker would: in csbot/db.py's
threads, off the event loop, one task at a time. Not in a helper process
(csbot/helper_pool.py): an alert raised there would be published on the
helper's own in-memory layer, which no dashboard follows. With a broker, beat
and the workers do this, and this never starts (csbot/asgi.py).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from datetime import datetime

from celery.schedules import maybe_schedule
from django.conf import settings

from csbot.db import in_worker

log = logging.getLogger(__name__)

# The longest sleep between looks at the schedule: a crontab entry tells its own.
MAX_WAIT_SECONDS = 60.0


def wanted() -> bool:
    """Celery is eager (no worker would run the schedule) and no other web process exists."""
    from chat.streaming.lifecycle import only_process

    return bool(settings.CELERY_TASK_ALWAYS_EAGER) and only_process()


def _run(task_name: str) -> None:
    from csbot.celery import app

    # apply(): inline, as a worker would run it (eager propagation raises its errors here).
    app.tasks[task_name].apply()


async def run_forever(schedule: dict | None = None) -> None:
    """Run every entry of `schedule` (CELERY_BEAT_SCHEDULE) when due, for the life of the process.

    As with beat, an entry first runs one interval after the start.
    """
    from csbot.celery import app

    entries = schedule if schedule is not None else settings.CELERY_BEAT_SCHEDULE
    timing = {name: maybe_schedule(entry["schedule"], app=app) for name, entry in entries.items()}
    # The tasks' modules, registering them. Not app.loader.import_default_modules(), as a
    # worker does: its Django fix-up runs the system checks (56 ms of the GIL, and the
    # migration machinery loaded for nothing).
    for entry in entries.values():
        importlib.import_module(entry["task"].rpartition(".")[0])
    started = app.now()
    last_run: dict[str, datetime] = dict.fromkeys(entries, started)
    while True:
        wait = MAX_WAIT_SECONDS
        for name, entry in entries.items():
            due, next_in = timing[name].is_due(last_run[name])
            if due:
                last_run[name] = app.now()
                try:
                    await in_worker(_run, entry["task"])
                except Exception:  # the database may be away for a while: the next run tries again
                    log.exception("scheduled task %s (%s) failed", name, entry["task"])
                due, next_in = timing[name].is_due(last_run[name])
            wait = min(wait, next_in)
        await asyncio.sleep(max(wait, 0.01))
