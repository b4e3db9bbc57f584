"""Telling the sockets about handoffs, after the commit, and the bot's own escalations.

Where frames go (chat/events.py has the per-conversation groups):
- conv.<id>        `state` and the system message ("Alice has joined the chat.")
- conv.<id>.staff  the `case` panel of staff watching the chat, internal notes
- staff            every dashboard: the list row (`conversation`) and the queue size
- staff.alerts     analytics alerts (analytics/services/alerts.py); relayed as they are

For agents/ (the bot's brain): to hand a chat to a human from async code,
`await escalate(conversation_id, Reason.SENTIMENT)`; from sync code outside a
transaction, `escalate_sync(...)`. From inside an answer job pass `cancel=False`:
cancelling stops the job's own task. After each answer the job calls
`after_answer`, which escalates on an upstream failure, repeated "I don't know"
and strong negative sentiment (Message.meta["sentiment"], Conversation.sentiment).
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import handoff, staff_selectors
from chat.events import publish
from chat.frames import dumps, message_frame
from chat.handoff import Change, Reason
from chat.streaming import jobs
from csbot.db import db_pool

log = logging.getLogger(__name__)

STAFF_GROUP = "staff"
STAFF_ALERTS_GROUP = "staff.alerts"  # the analytics engineer publishes here

__all__ = ["Reason", "after_answer", "announce", "escalate", "escalate_sync", "row_changed"]


async def publish_staff(frame: dict[str, Any]) -> None:
    await get_channel_layer().group_send(STAFF_GROUP, {"type": "relay", "frame": dumps(frame)})


async def announce(change: Change | None) -> None:
    """Publish a committed change; stop the bot's answer first when it must stop."""
    while change is not None:
        cid = change.conversation_id
        if change.cancel:
            await jobs.cancel_answer(cid)
        state: dict[str, Any] = {"type": "state", "state": change.state}
        if change.agent_name:
            state["agent"] = {"name": change.agent_name}
        await publish(cid, state)
        for message in change.messages:
            await publish(cid, message_frame(message), internal=message.internal)
        await publish(cid, {"type": "case", "conversation": change.case}, internal=True)
        await publish_staff(change.row)
        change = change.then


_row = db_pool(staff_selectors.row_frame)


async def row_changed(conversation_id: int) -> None:
    """A new message or state: every dashboard's list row follows."""
    await publish_staff(await _row(conversation_id))


_escalate = db_pool(handoff.conversation_escalate)


async def escalate(conversation_id: int, reason: str, *, actor=None, cancel: bool = True) -> bool:
    """Queue the chat for a human if the bot holds it; False when it did not."""
    change = await _escalate(conversation_id=conversation_id, reason=reason, actor=actor)
    if change is None:
        return False
    change.cancel = cancel
    await announce(change)
    return True


def escalate_sync(conversation_id: int, reason: str, *, actor=None) -> bool:
    """escalate() for sync code; call it outside a transaction (it writes on another connection)."""
    return async_to_sync(escalate)(conversation_id, reason, actor=actor)


@db_pool
def _after_answer(conversation_id: int, status: str, error: str) -> tuple[str | None, dict[str, Any]]:
    reason = handoff.auto_escalation_reason(conversation_id=conversation_id, status=status, error=error)
    return reason, ({} if reason else staff_selectors.row_frame(conversation_id))


async def after_answer(conversation_id: int, *, status: str, error: str = "") -> None:
    """The answer job calls this when an answer is finished (not when it was cancelled)."""
    try:
        reason, row = await _after_answer(conversation_id, status, error)
        if reason:
            # This runs in the job's own task: cancelling would cancel us.
            await escalate(conversation_id, reason, cancel=False)
        else:
            await publish_staff(row)
    except Exception:  # the answer is stored and shown; never fail the job over this
        log.exception("after-answer handling failed for conversation %s", conversation_id)
