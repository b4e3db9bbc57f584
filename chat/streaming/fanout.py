"""Frames to the sockets that follow a conversation: this process's own directly, others' through the layer.

Why not a channel-layer group per socket: with channels_redis, every frame to a
group costs Redis round trips per member, and all of a process's sockets read
their frames from one capped list per process, so a burst of deltas could drop
frames silently (docs/benchmarks.md, "What the profiles show"). An answer job
runs in the process that holds the player's socket (design-notes §1), so its
deltas almost never need to leave the process.

How it works, per process (per event loop, as tests run many loops):
- `members` maps a group (`conv.<id>`, `conv.<id>.staff`) to the sockets of
  this process that follow it; consumers `join` and `leave` instead of
  group_add / group_discard.
- While it has a member in a group, the process is in the layer's group with
  ONE channel of its own. Frames from elsewhere (other daphne processes,
  Celery, sync code on another loop) arrive there and are handed to the
  members.
- `publish` hands a frame to the local members at once, in publish order, and
  sends it through the layer tagged with this process's channel: the process
  skips its own copy, other processes deliver theirs.
- `publish_delta`, the hot path, skips the layer unless another process
  follows the conversation. Followers are recorded in Redis
  (`csbot:follow:<group>`); a process that starts following a conversation
  also tells the process running its answer job (`conv.<id>.jobs`, see
  chat/streaming/jobs.py), which marks the group as followed elsewhere. A
  follower that still misses a delta sees a gap in the offsets and resumes
  (docs/protocol.md).
With the in-memory layer (the embedded default: one process, one event loop
serving every socket) there is nobody elsewhere: frames never touch the layer,
whose group_send also scans every channel and group it holds.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from chat.groups import conversation_of, jobs_group
from chat.streaming.loops import per_loop, receive_forever

log = logging.getLogger(__name__)

FOLLOW_KEY_SECONDS = 86400  # a crashed process's entries expire; meanwhile they only cost a few sends


class Follower(Protocol):
    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False): ...


class Fanout:
    def __init__(self) -> None:
        self.members: dict[str, set[Follower]] = {}
        # Groups known to be followed by another process too (deltas go through the layer).
        self.followed_elsewhere: set[str] = set()
        self.layer = get_channel_layer()
        self.shared = not isinstance(self.layer, InMemoryChannelLayer)
        self._channel: str | None = None
        self._reader: asyncio.Task | None = None
        self._redis = None

    # --- following -----------------------------------------------------------------------

    async def join(self, group: str, follower: Follower) -> None:
        followers = self.members.setdefault(group, set())
        first = not followers
        followers.add(follower)
        if first and self.shared:
            channel = await self.channel()
            await self.layer.group_add(group, channel)
            await self._record_follow(group, channel)

    async def leave(self, group: str, follower: Follower) -> None:
        followers = self.members.get(group)
        if not followers or follower not in followers:
            return
        followers.discard(follower)
        if not followers:
            del self.members[group]
            if self.shared:
                channel = await self.channel()
                await self.layer.group_discard(group, channel)
                await self.redis().hdel(_follow_key(group), channel)

    async def _record_follow(self, group: str, channel: str) -> None:
        key = _follow_key(group)
        async with self.redis().pipeline(transaction=False) as pipe:
            pipe.hset(key, channel, 1)
            pipe.expire(key, FOLLOW_KEY_SECONDS)
            await pipe.execute()
        conversation_id = conversation_of(group)
        if conversation_id is not None:
            # The answer job may be running in another process already: tell it to send us its deltas.
            event = {"type": "answer.follow", "group": group, "by": channel}
            await self.layer.group_send(jobs_group(conversation_id), event)

    async def check_followed_elsewhere(self, group: str) -> bool:
        """Ask Redis whether another process follows `group` (once per answer, not per delta)."""
        if not self.shared:
            return False
        channel = await self.channel()
        others = [c for c in await self.redis().hkeys(_follow_key(group)) if c.decode() != channel]
        if others:
            self.followed_elsewhere.add(group)
        else:
            self.followed_elsewhere.discard(group)
        return bool(others)

    def mark_followed_elsewhere(self, group: str, by: str) -> None:
        if by != self._channel:
            self.followed_elsewhere.add(group)

    # --- publishing ------------------------------------------------------------------------

    async def publish(self, group: str, text: str, *, exclude: Follower | None = None) -> None:
        """A frame to every follower of `group`, in this process and others."""
        await self._deliver(group, text, exclude)
        if self.shared:
            await self._send_elsewhere(group, text)

    async def publish_delta(self, group: str, text: str) -> None:
        await self._deliver(group, text, None)
        if group in self.followed_elsewhere:
            await self._send_elsewhere(group, text)

    async def _send_elsewhere(self, group: str, text: str) -> None:
        # Tagged with our channel (if we have one: only then can we be in the group) to skip our own copy.
        event = {"type": "relay", "g": group, "frame": text, "from": self._channel}
        await self.layer.group_send(group, event)

    async def _deliver(self, group: str, text: str, exclude: Follower | None) -> None:
        for follower in list(self.members.get(group, ())):
            if follower is exclude:
                continue
            try:
                await follower.send(text_data=text)
            except Exception:  # a closing socket must not stop the frame reaching the others
                log.info("dropping a follower of %s that could not be sent to", group, exc_info=True)
                await self.leave(group, follower)

    # --- this process's channel --------------------------------------------------------------

    async def channel(self) -> str:
        if self._channel is None:
            self._channel = await self.layer.new_channel()
            self._reader = asyncio.create_task(self._read(self._channel), name="fanout-reader")
        return self._channel

    async def _read(self, channel: str) -> None:
        async for event in receive_forever(self.layer, channel, "fanout"):
            if event.get("type") != "relay" or event.get("from") == channel:
                continue  # our own frame: the local followers have it already
            if event.get("g"):
                await self._deliver(event["g"], event["frame"], None)

    def redis(self):
        if self._redis is None:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(settings.REDIS_URL)
        return self._redis


def _follow_key(group: str) -> str:
    return f"csbot:follow:{group}"


fanout = per_loop(Fanout)  # this event loop's (daphne has one loop; tests have many)
