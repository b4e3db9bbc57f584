"""Whether a chat's player is connected: what the case panel shows staff.

Only the process holding a player's socket knows it is open. Nothing is stored:
a process that dies takes its knowledge with it, so nothing can go stale (the
agents' presence, stored, needs a heartbeat: chat/presence.py).

- Each process counts its player sockets per conversation (PlayerConsumer).
- A socket that connects, or the last one here that drops, is published to the
  chat's staff as `player_presence` (docs/protocol.md). The last one here that
  drops then asks the other processes too: a tab of the player on another
  process (a proxy without sticky sessions) answers `online` after that
  `offline`, so the panel ends on what is true.
- A dashboard that opens a chat was not there to hear it, so it asks
  (`ask_who_is_connected`) every process that holds the chat: those are in its
  jobs group from each player socket's connect (chat/streaming/jobs.py). Each
  with a socket of the player answers with `player_presence` online; when
  none does, the panel falls back to when the player was last seen.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from channels.layers import get_channel_layer

from chat.events import jobs_group, publish
from chat.streaming.loops import per_loop

log = logging.getLogger(__name__)

QUERY = "presence.query"  # the event on a jobs group's channels


class PlayerSockets:
    """The player sockets open in this process (on this event loop), per conversation."""

    def __init__(self) -> None:
        self.open: Counter[int] = Counter()
        self.since: dict[int, datetime] = {}  # when the first of them connected

    def opened(self, conversation_id: int, at: datetime) -> None:
        self.open[conversation_id] += 1
        self.since.setdefault(conversation_id, at)

    def closed(self, conversation_id: int) -> bool:
        """One socket fewer; True when it was the last one here."""
        self.open[conversation_id] -= 1
        if self.open[conversation_id] > 0:
            return False
        del self.open[conversation_id]
        self.since.pop(conversation_id, None)
        return True


player_sockets = per_loop(PlayerSockets)


def presence_frame(conversation_id: int, *, online: bool, at: datetime) -> dict:
    return {"type": "player_presence", "conversation_id": conversation_id, "online": online, "at": at.isoformat()}


async def ask_who_is_connected(conversation_id: int) -> None:
    """A dashboard opened the chat: processes with a socket of its player will say so.

    A layer that fails leaves the panel on when the player was last seen; the watch goes on.
    """
    query = {"type": QUERY, "conversation_id": conversation_id}
    try:
        await get_channel_layer().group_send(jobs_group(conversation_id), query)
    except Exception:
        log.exception("could not ask who holds conversation %s whether its player is connected", conversation_id)


async def answer_query(conversation_id: int) -> None:
    """On a jobs group's channel (chat/streaming/jobs.py): say so if the player is connected here.

    Never raises: the channel it is read on also carries the takeovers' cancellations.
    """
    since = player_sockets().since.get(conversation_id)
    if since is None:
        return
    try:
        await publish(conversation_id, presence_frame(conversation_id, online=True, at=since), internal=True)
    except Exception:
        log.exception("could not tell staff that the player of conversation %s is connected", conversation_id)
