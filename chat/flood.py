"""How fast a player may send messages: a token bucket per player, in this process.

Every message a player sends is stored, shows on the dashboards and may start an
LLM call. A script, or a key held down on a phone, sending dozens a second would
fill the staff's list and history and the database with noise. A person typing
never comes near the limit: PLAYER_MESSAGE_BURST messages at once, then
PLAYER_MESSAGES_PER_MINUTE on average. A message over it is refused, not
dropped: the page puts it back in the box (docs/protocol.md, `slow_down`).

Per process, in memory, as the sockets are: a player whose tabs land on two
processes has two buckets. That only ever loosens the limit. Players who make a
new identity for every message are the proxy's to limit, by address.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings

from chat.streaming.loops import per_loop

# How often buckets that have filled up again are forgotten (a full bucket is a new one).
PRUNE_EVERY_SECONDS = 60.0


@dataclass
class _Bucket:
    tokens: float
    at: float
    refusing: bool = False  # the last message was refused: staff have been told about this flood


class FloodGuard:
    def __init__(self) -> None:
        self.buckets: dict[int, _Bucket] = {}
        self.pruned_at = time.monotonic()

    def admit(self, player_id: int, now: float | None = None) -> tuple[bool, bool]:
        """(allowed, first refusal): whether this message may go on, and whether it is the
        first one refused since the player last sent in time, which staff are told of once."""
        now = time.monotonic() if now is None else now
        burst, per_second = _limits()
        self._prune(now, burst, per_second)
        bucket = self.buckets.get(player_id)
        if bucket is None:
            bucket = self.buckets[player_id] = _Bucket(tokens=burst, at=now)
        bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * per_second)
        bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.refusing = False
            return True, False
        first = not bucket.refusing
        bucket.refusing = True
        return False, first

    def _prune(self, now: float, burst: float, per_second: float) -> None:
        if now - self.pruned_at < PRUNE_EVERY_SECONDS:
            return
        self.pruned_at = now
        full = [pk for pk, b in self.buckets.items() if b.tokens + (now - b.at) * per_second >= burst]
        for pk in full:
            del self.buckets[pk]


def flood_note(text: str) -> str:
    """The staff's note on the first message refused in a flood, with its words."""
    return (
        f"Refused a message sent faster than {settings.PLAYER_MESSAGES_PER_MINUTE:g} a minute "
        f"(after {settings.PLAYER_MESSAGE_BURST} at once); the player was asked to wait, and the "
        f"message went back into their box:\n{text}"
    )


def _limits() -> tuple[float, float]:
    return float(settings.PLAYER_MESSAGE_BURST), settings.PLAYER_MESSAGES_PER_MINUTE / 60.0


flood_guard = per_loop(FloodGuard)
