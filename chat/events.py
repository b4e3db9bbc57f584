"""Publishing to the sockets that follow a conversation (chat/groups.py names the groups).

Frames are encoded once and handed to every follower: this process's sockets
directly, other processes' through the channel layer (chat/streaming/fanout.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chat.frames import dumps
from chat.groups import conversation_group, jobs_group, staff_group
from chat.streaming.fanout import fanout

__all__ = ["conversation_group", "jobs_group", "publish", "publish_delta", "staff_group"]


async def publish(
    conversation_id: int,
    frame: dict[str, Any],
    *,
    internal: bool = False,
    exclude=None,
    stops_before: int | None = None,
) -> None:
    """Send one frame to everyone following the conversation (staff only when `internal`).

    `exclude`: a socket of this process that must not get it (the sender of a
    player message, which has its `ack`). `stops_before`: the frame announces a
    handoff that stopped the answers with lower ids; no socket gets their text
    after it (chat/streaming/stopped.py).
    """
    group = staff_group(conversation_id) if internal else conversation_group(conversation_id)
    await fanout().publish(group, dumps(frame), exclude=exclude, stops_before=stops_before)


async def publish_delta(
    conversation_id: int, frame_text: str, *, before_relay: Callable[[], Awaitable[object]] | None = None
) -> None:
    """A delta of the conversation's streaming answer, already encoded: the hot path.

    `before_relay` runs only when the delta is about to go to another process
    (Fanout.publish).
    """
    await fanout().publish(conversation_group(conversation_id), frame_text, before_relay=before_relay)
