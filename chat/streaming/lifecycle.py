"""A web process's answers when it starts and when it stops.

An answer's job lives in the process that accepted the question
(chat/streaming/jobs.py). When that process stops, nobody else would finish
the answer's row, and it would stay `streaming` for good: the player's bubble
never ends and the dashboard shows the bot still typing.

- **A stopping process** (SIGTERM: a deploy, a scale-down) takes no new question
  and lets its running answers finish, for up to ANSWER_SHUTDOWN_GRACE_SECONDS;
  then it fails those still running itself before it exits: each keeps the text
  so far as `failed`, with a notice for the player, publishes its `end`, and the
  chat goes to staff's queue (JobRegistry.stop).
- **A process that died** (SIGKILL, the OOM killer, a crash) could not. Its
  heartbeat stops (chat/streaming/heartbeat.py), so a row still `streaming` whose
  runner has not been heard from for WEB_PROCESS_STALE_SECONDS has no job; nor has
  one still `streaming` ORPHAN_MARGIN_SECONDS after ANSWER_MAX_SECONDS, as every
  answer fails once it streams that long (a row stored before answers named their
  runner). Every web process looks for such rows every ORPHAN_SWEEP_SECONDS,
  fails them and publishes their `end` (one UPDATE per row settles which process
  does), and tells staff, putting the chat in their queue
  (selectors.orphan_goes_to_staff) unless its player has gone on or is long gone.
  On the embedded default there is one web process (the in-memory channel layer
  reaches no other), so at its start every `streaming` row is an orphan, whatever
  its age.

daphne runs these hooks (csbot/asgi.py installs them on its reactor).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.utils import timezone

from chat import selectors, services, staff_notify
from chat.events import publish
from chat.frames import stored_end_frame
from chat.streaming.buffer import get_buffer
from chat.streaming.heartbeat import runners_alive
from chat.streaming.jobs import registry
from csbot.db import RepeatedFailure, db_pool
from csbot.runner import runner_name

log = logging.getLogger(__name__)

_orphans = db_pool(services.answers_orphaned)
_fail = db_pool(services.answer_orphaned_fail)
_goes_to_staff = db_pool(selectors.orphan_goes_to_staff)


async def stop_answers() -> int:
    """The process is stopping: let its running answers finish, for up to
    ANSWER_SHUTDOWN_GRACE_SECONDS, then fail those still running. Returns how many it failed."""
    grace = settings.ANSWER_SHUTDOWN_GRACE_SECONDS
    reg = registry()
    if running := reg.running_conversations():
        log.warning(
            "stopping: taking no new questions, letting the answers of chats %s finish (up to %g s)",
            _numbers(running),
            grace,
        )
    stopped = await reg.stop(grace)
    if stopped.finished:
        log.warning(
            "stopping: the answers of chats %s finished, %d of them within the grace period",
            _numbers(stopped.finished),
            len(stopped.finished) - len(stopped.ending),
        )
    if stopped.failed:
        # The chats by number, as staff see them: the log is where "why did #12 get cut off?" is answered.
        log.warning(
            "stopping: failed the answers of chats %s, still running after %g s, telling their players",
            _numbers(stopped.failed),
            grace,
        )
    return len(stopped.failed)


async def sweep(created_before: datetime) -> int:
    """Fail the orphaned answers, those started before `created_before` and those of a web
    process gone silent, and tell their followers and staff."""
    failed = 0
    buffer = get_buffer()
    orphans = await _orphans(
        created_before=created_before,
        runners_alive=runners_alive(),
        runner_started_before=timezone.now() - timedelta(seconds=settings.WEB_PROCESS_STALE_SECONDS),
        sweeper=runner_name(),
    )
    for message_id in orphans:
        # Decided first, so that the player reads what happens next: "passed to our support
        # team" above the queue's note, or "you can ask again".
        queued = await _goes_to_staff(message_id=message_id, created_after=orphan_cutoff())
        # What the player saw may be past the row's last checkpoint: the buffer has it.
        message = await _fail(message_id=message_id, streamed_text=await buffer.get(message_id), queued=queued)
        if message is None:  # another process's sweep was first
            continue
        failed += 1
        log.warning(
            "failed the answer of chat #%d left streaming by web process %s, gone silent or stopped",
            message.conversation_id,
            message.meta.get("runner") or "(unnamed)",
        )
        await buffer.finish(message_id)
        await publish(message.conversation_id, stored_end_frame(message, message.text))
        if queued:
            # As after any failed answer: the chat goes to staff's queue, and they see why.
            await staff_notify.after_answer(
                message.conversation_id,
                status=message.status,
                error=message.error,
                language=services.failed_answer_language(message),
            )
        else:
            await staff_notify.row_changed(message.conversation_id)
    return failed


def _numbers(conversation_ids: list[int]) -> str:
    return ", ".join(f"#{cid}" for cid in conversation_ids)


def orphan_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.ANSWER_MAX_SECONDS + settings.ORPHAN_MARGIN_SECONDS)


def only_process() -> bool:
    """True when this must be the only web process: no channel layer reaches another."""
    return isinstance(get_channel_layer(), InMemoryChannelLayer)


async def sweep_forever(started_at: datetime) -> None:
    """Sweep now, then every ORPHAN_SWEEP_SECONDS, for the life of the process."""
    cutoff = started_at if only_process() else orphan_cutoff()
    failures = RepeatedFailure(log, "the sweep for orphaned answers")
    while True:
        try:
            await sweep(cutoff)
        except Exception:  # the database may be away for a while: try again next time
            failures.failed()
        else:
            failures.succeeded()
        await asyncio.sleep(settings.ORPHAN_SWEEP_SECONDS)
        cutoff = orphan_cutoff()
