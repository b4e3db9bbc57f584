"""Publishing to the sockets that follow a conversation.

Groups:
- conv.<id>        every socket of the conversation: the player's tabs and watching staff
- conv.<id>.staff  staff sockets only: internal notes and events
- conv.<id>.jobs   the process running the conversation's answer job (cancellation)
"""

from __future__ import annotations

from typing import Any

from channels.layers import get_channel_layer

from chat.frames import dumps


def conversation_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def staff_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}.staff"


def jobs_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}.jobs"


async def publish(conversation_id: int, frame: dict[str, Any], *, internal: bool = False) -> None:
    """Send one frame, encoded once, to everyone following the conversation."""
    group = staff_group(conversation_id) if internal else conversation_group(conversation_id)
    await get_channel_layer().group_send(group, {"type": "relay", "frame": dumps(frame), "c": conversation_id})


async def publish_text(conversation_id: int, frame_text: str) -> None:
    # `c` lets a staff socket that switched conversations drop frames of the old one.
    event = {"type": "relay", "frame": frame_text, "c": conversation_id}
    await get_channel_layer().group_send(conversation_group(conversation_id), event)
