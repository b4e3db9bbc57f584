"""The names of the groups that follow a conversation.

- conv.<id>        every socket of the conversation: the player's tabs and watching staff
- conv.<id>.staff  staff sockets only: internal notes and events
- conv.<id>.jobs   the processes holding the conversation: its player sockets and its answer job (cancellation)
"""

from __future__ import annotations


def conversation_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}"


def staff_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}.staff"


def jobs_group(conversation_id: int) -> str:
    return f"conv.{conversation_id}.jobs"
