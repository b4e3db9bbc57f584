"""Telling the sockets about handoffs, after the commit, and the bot's own escalations.

Where frames go (chat/events.py has the per-conversation groups):
- conv.<id>        `state` and the system message ("Alice has joined the chat.")
- conv.<id>.staff  the `case` panel of staff watching the chat, internal notes
- staff            every dashboard: list rows and the queue size. Rows of chats that
                   changed go out together (`conversations`, RowBatcher below), at
                   most every STAFF_ROW_BATCH_SECONDS per process; a handoff's row
                   goes out at once (`conversation`, announce)
- staff.alerts     analytics alerts (analytics/services/alerts.py); relayed as they are

For agents/ (the bot's brain): to hand a chat to a human from async code,
`await escalate(conversation_id, Reason.SENTIMENT)`; from sync code outside a
transaction, `escalate_sync(...)`. From inside an answer job pass
`from_answer_job=True`: the answers of the chat's other processes stop, not the
job's own task. After each answer the job calls
`after_answer`, which escalates on an upstream failure, repeated "I don't know"
and strong negative sentiment (Message.meta["sentiment"], Conversation.sentiment).
Given the answer's meta it skips those checks' queries when no rule can fire
(handoff.escalation_possible).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from chat import handoff, staff_selectors
from chat.events import publish
from chat.frames import dumps, message_frame
from chat.handoff import Change, Reason
from chat.models import Message
from chat.streaming import jobs
from chat.streaming.loops import per_loop
from chat.streaming.redis_client import redis_client
from csbot.db import db_pool

log = logging.getLogger(__name__)

STAFF_GROUP = "staff"
STAFF_ALERTS_GROUP = "staff.alerts"  # the analytics engineer publishes here

__all__ = ["Reason", "after_answer", "announce", "escalate", "escalate_sync", "queue_failed_answer", "row_changed"]


async def publish_staff(frame: dict[str, Any]) -> None:
    await get_channel_layer().group_send(STAFF_GROUP, {"type": "relay", "frame": dumps(frame)})


_describe = db_pool(handoff.describe)


async def announce(change: Change | None) -> None:
    """Publish a committed change; stop the bot's answer first when it must stop, then tell
    the player, then staff."""
    while change is not None:
        cid = change.conversation_id
        stops_before = None
        if change.cancel:
            await jobs.cancel_answer(cid, here=change.cancel_here)
            # The answer may run on another process, which hears of the stop a Redis round trip
            # after the sockets here hear of the change: from this frame on, they get none of its text.
            stops_before = _first_notice_id(change)
        state: dict[str, Any] = {"type": "state", "state": change.state}
        if change.agent_name:
            state["agent"] = {"name": change.agent_name}
        if change.language:
            state["language"] = change.language
        await publish(cid, state, stops_before=stops_before)
        for message in change.messages:
            await publish(cid, message_frame(message), internal=message.internal)
        if not change.described:  # a takeover, a close, an escalation: its row and case panel are read only now
            await _describe(change)
        await publish(cid, {"type": "case", "conversation": change.case}, internal=True)
        if not _taken_at_once(change):
            await publish_staff(change.row)
            rows().announced(cid)
        change = change.then


def _taken_at_once(change: Change) -> bool:
    """An agent was assigned the chat as it was queued (AUTO_ASSIGN): its row in the queue
    was never anyone's to pick up. Sent, it made every dashboard announce a chat waiting,
    and told its agent twice in a row; the dashboards get only the row of the takeover."""
    then = change.then
    return then is not None and then.conversation_id == change.conversation_id and then.state == handoff.State.HUMAN


def _first_notice_id(change: Change | None) -> int | None:
    """The id of the change's first system message (or of a change that follows it, such as
    the takeover an escalation auto-assigns): every answer begun before it is stopped."""
    while change is not None:
        if change.messages:
            return change.messages[0].pk
        change = change.then
    return None


_rows = db_pool(staff_selectors.rows_frame)


class RowBatcher:
    """The dashboards' list rows to send from this process, on this event loop.

    A change only marks its conversation; one task computes every marked row in
    one worker-thread call (3 queries) and sends them as one `conversations`
    frame. The first change after a quiet spell goes out at once, later ones at
    most every STAFF_ROW_BATCH_SECONDS. The task ends when nothing is left to
    send, and dies with its loop.
    """

    def __init__(self) -> None:
        self.dirty: dict[int, None] = {}  # an ordered set
        self.sending: Counter[int] = Counter()
        self.task: asyncio.Task | None = None

    def mark(self, conversation_id: int) -> None:
        self.dirty[conversation_id] = None
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="staff-rows")

    def announced(self, conversation_id: int) -> None:
        """A handoff's fresh row just went out: a row being computed now may be older, so send it again."""
        if self.sending[conversation_id]:
            self.mark(conversation_id)

    async def _run(self) -> None:
        while self.dirty:
            ids = list(self.dirty)
            self.dirty.clear()
            await self.send(ids)
            await asyncio.sleep(settings.STAFF_ROW_BATCH_SECONDS)

    async def send(self, conversation_ids: Iterable[int]) -> None:
        """One frame with these rows now; a failure is logged (the next change sends the row again)."""
        ids = list(conversation_ids)
        self.sending.update(ids)
        try:
            if await dashboards_open():
                await publish_staff(await _rows(ids))
        except Exception:
            log.exception("dashboard rows update failed for conversations %s", ids)
        finally:
            for pk in ids:
                self.sending[pk] -= 1
                if self.sending[pk] <= 0:
                    del self.sending[pk]


rows = per_loop(RowBatcher)  # this event loop's batcher


async def dashboards_open() -> bool:
    """Whether any staff socket, on any process, is in the `staff` group.

    With none, list rows would be computed (three queries) for nobody: 3.6% of a
    process's GIL time at ERNIE pace, N = 1,000 (docs/benchmarks-history.md, "The fourth
    round"). Skipping them loses nothing: a dashboard joins the group before it
    reads its list (chat/staff_consumer.py), and this is asked after the change
    was committed, so a dashboard this misses reads the change in its list. A
    crashed process's staff channels stay members until the layer expires them:
    rows are then computed for nobody, as before.
    """
    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        return bool(layer.groups.get(STAFF_GROUP))
    return await redis_client().zcard(layer._group_key(STAFF_GROUP)) > 0


async def row_changed(conversation_id: int) -> None:
    """A new message or state: every dashboard's list row follows, batched with others."""
    if settings.STAFF_ROW_BATCH_SECONDS <= 0:
        await rows().send([conversation_id])
    else:
        rows().mark(conversation_id)


_escalate = db_pool(handoff.conversation_escalate)


async def escalate(
    conversation_id: int,
    reason: str,
    *,
    actor=None,
    from_answer_job: bool = False,
    error: str = "",
    language: str = "",
) -> bool:
    """Queue the chat for a human if the bot holds it; False when it did not.

    The chat's answers stop, except, `from_answer_job`, the calling job's own: another
    tab of the player's on another process may be streaming one. `language`: the queue's
    line's (handoff.conversation_escalate).
    """
    change = await _escalate(
        conversation_id=conversation_id, reason=reason, actor=actor, error=error, language=language
    )
    if change is None:
        return False
    change.cancel_here = not from_answer_job
    await announce(change)
    return True


async def queue_failed_answer(conversation_id: int, *, error: str, language: str = "") -> Change | None:
    """Put the chat whose answer just failed in the queue, from that answer's job; None when
    the bot no longer holds it.

    Committed, not announced: the job first tells the player what failed, in words that say
    what happens next (someone will reply, or they can ask again), then announce()s it.
    `language`: the answer's, which its notice is in too, so the queue's line reads alike.
    """
    reason = handoff.failure_reason(error)
    change = await _escalate(conversation_id=conversation_id, reason=reason, error=error, language=language)
    if change is not None:
        change.cancel_here = False  # the caller is the answer's job, which is ending
    return change


_back_to_bot = db_pool(handoff.conversation_player_back_to_bot)


async def player_back_to_bot(conversation_id: int) -> bool:
    """The waiting player goes on with the bot; False when the chat was not waiting."""
    change = await _back_to_bot(conversation_id=conversation_id)
    if change is None:
        return False
    await announce(change)
    return True


def escalate_sync(conversation_id: int, reason: str, *, actor=None) -> bool:
    """escalate() for sync code; call it outside a transaction (it writes on another connection)."""
    return async_to_sync(escalate)(conversation_id, reason, actor=actor)


_escalation_reason = db_pool(handoff.auto_escalation_reason)


async def after_answer(
    conversation_id: int,
    *,
    status: str,
    error: str = "",
    answer_meta: dict[str, Any] | None = None,
    previous: dict[str, Any] | None = None,
    language: str = "",
) -> None:
    """The answer job calls this when an answer is finished (not when it was cancelled).

    `status`, `error` and `answer_meta` are the finished answer's (its Message.meta,
    with meta["sentiment"] from agents/pipeline); `previous` the bot answer before
    it (handoff.escalation_possible). With them, an answer that no escalation rule
    can act on costs no query here, only a batched row update. `language`: the answer's,
    for the queue's line under it.
    """
    try:
        reason = None
        if handoff.escalation_possible(status, error, answer_meta, previous):
            reason = await _escalation_reason(conversation_id=conversation_id, status=status, error=error)
        if reason:
            # This runs in the job's own task, its answer ended. An agent assigned at once still
            # stops the conversation's answers: the job ignores that stop (JobRegistry.ending),
            # which cut this announcement short, so the player never read who had joined.
            failure = error if status == Message.Status.FAILED else ""
            await escalate(conversation_id, reason, from_answer_job=True, error=failure, language=language)
        else:
            await row_changed(conversation_id)
    except Exception:  # the answer is stored and shown; never fail the job over this
        log.exception("after-answer handling failed for conversation %s", conversation_id)
