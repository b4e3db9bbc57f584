"""Frames to the sockets that follow a conversation: this process's own directly, others' through the layer.

Why not a channel-layer group per socket: with channels_redis, every frame to a
group costs Redis round trips per member, and all of a process's sockets read
their frames from one capped list per process, so a burst of deltas could drop
frames silently (docs/benchmarks-history.md, "What the profiles show"). An answer job
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
  sends it through the layer only when another process follows the group too.
  Followers are recorded in Redis (`<layer prefix>:follow:<group>`): a process that
  starts following reads who else does, and tells them (`fanout.follow`
  through the group), so each process knows, for the groups it follows, which
  other processes follow them; a frame to a group nobody here follows costs
  one HLEN. Copies of our own frames are skipped by their `from` tag.
  `publish` says whether the frame crossed, and runs the caller's
  `before_relay` first when it does (the answer job flushes its buffer there).
- So an answer's deltas, published where the player's socket is, touch Redis
  only when someone elsewhere watches. A follower that joins mid-answer may
  miss a frame published before the others heard of it: it reads what it
  missed with `resume` (the database and the answer buffer), and a lost delta
  shows as a gap in the offsets, which the clients resume from
  (docs/protocol.md).
- A handoff's `state` frame (`publish(..., stops_before=...)`) tells every
  process following the group which answers it stopped; each drops their text
  from then on (chat/streaming/stopped.py), as the process running the answer
  hears of the stop a Redis round trip after the notice went out.
With the in-memory layer (the embedded default: one process, one event loop
serving every socket) there is nobody elsewhere: frames never touch the layer,
whose group_send also scans every channel and group it holds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from autobahn.exception import Disconnected
from channels.layers import InMemoryChannelLayer, get_channel_layer

from chat.streaming.loops import per_loop, receive_forever
from chat.streaming.redis_client import redis_client
from chat.streaming.stopped import StoppedAnswers, is_delta

log = logging.getLogger(__name__)

FOLLOW_KEY_SECONDS = 86400  # a crashed process's entries expire; meanwhile they only cost a few sends


class Follower(Protocol):
    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False): ...


class Fanout:
    def __init__(self) -> None:
        self.members: dict[str, set[Follower]] = {}
        # For each group followed here: the channels of the other processes that follow it too.
        self.elsewhere: dict[str, set[str]] = {}
        # For each group followed here whose answers a handoff stopped: which (stopped.py).
        self.stopped: dict[str, StoppedAnswers] = {}
        # For each group followed here: the last delta its sockets got, kept as it is (no parsing
        # on the hot path), for what a stop says they were shown.
        self.last_delta: dict[str, str] = {}
        self.layer = get_channel_layer()
        self.shared = not isinstance(self.layer, InMemoryChannelLayer)
        self._channel: str | None = None
        self._reader: asyncio.Task | None = None

    # --- following -----------------------------------------------------------------------

    async def join(self, group: str, follower: Follower) -> None:
        followers = self.members.setdefault(group, set())
        first = not followers
        followers.add(follower)
        if first and self.shared:
            channel = await self.channel()
            await self.layer.group_add(group, channel)
            key = self._follow_key(group)
            async with self.redis().pipeline(transaction=True) as pipe:
                pipe.hset(key, channel, 1)
                pipe.expire(key, FOLLOW_KEY_SECONDS)
                pipe.hkeys(key)
                *_, followers_now = await pipe.execute()
            others = {c.decode() for c in followers_now} - {channel}
            self.elsewhere[group] = others
            if others:
                # They publish to this group without the layer until they hear of us.
                await self.layer.group_send(group, {"type": "fanout.follow", "g": group, "by": channel})

    async def leave(self, group: str, follower: Follower) -> None:
        followers = self.members.get(group)
        if not followers or follower not in followers:
            return
        followers.discard(follower)
        if not followers:
            del self.members[group]
            self.stopped.pop(group, None)
            self.last_delta.pop(group, None)
            others = self.elsewhere.pop(group, set())
            if self.shared:
                channel = await self.channel()
                await self.layer.group_discard(group, channel)
                await self.redis().hdel(self._follow_key(group), channel)
                if others:
                    await self.layer.group_send(group, {"type": "fanout.unfollow", "g": group, "by": channel})

    async def followed_elsewhere(self, group: str) -> bool:
        """Whether a frame to `group` must go through the layer: another process follows it."""
        if not self.shared:
            return False
        if group in self.members:
            return bool(self.elsewhere.get(group))
        # Nobody here follows it, so nobody told us who does: ask (one HLEN, cheaper than a group_send).
        return await self.redis().hlen(self._follow_key(group)) > 0

    # --- publishing ------------------------------------------------------------------------

    async def publish(
        self,
        group: str,
        text: str,
        *,
        exclude: Follower | None = None,
        before_relay: Callable[[], Awaitable[object]] | None = None,
        stops_before: int | None = None,
    ) -> bool:
        """A frame to every follower of `group`, in this process and others.

        Returns whether it went through the layer (another process follows the
        group). `before_relay` is awaited just before it does, and only then:
        the answer job flushes the answer buffer there, so that no other process
        is sent text that a resume on it could not read yet (chat/streaming/buffer.py).
        Passed in rather than asked for with `followed_elsewhere` first, so that
        the check (an HLEN when nobody here follows) runs once per frame.

        `stops_before`: the frame announces a handoff that stopped the group's answers
        with lower ids; here and on every process that gets it, their text is dropped
        from now on.
        """
        if stops_before is not None:
            self._stop(group, stops_before)
        await self._deliver(group, text, exclude)
        if not await self.followed_elsewhere(group):
            return False
        if before_relay is not None:
            await before_relay()
        # Tagged with our channel (if we have one: only then can we be in the group) to skip our own copy.
        event = {"type": "relay", "g": group, "frame": text, "from": self._channel}
        if stops_before is not None:
            event["stops_before"] = stops_before
        await self.layer.group_send(group, event)
        return True

    def _stop(self, group: str, before: int) -> None:
        if group not in self.members:
            return  # nobody here to protect
        last_delta = self.last_delta.get(group)
        if group in self.stopped:
            self.stopped[group].stop_before(before, last_delta)
        else:
            self.stopped[group] = StoppedAnswers(before, last_delta)

    async def _deliver(self, group: str, text: str, exclude: Follower | None) -> None:
        if self.stopped and group in self.stopped:
            text = self.stopped[group].admit(text)
            if text is None:
                return
        if is_delta(text) and group in self.members:
            self.last_delta[group] = text
        for follower in list(self.members.get(group, ())):
            if follower is exclude:
                continue
            try:
                await follower.send(text_data=text)
            except Disconnected:  # a browser that closed mid-answer: routine, no traceback
                log.debug("dropping a follower of %s that has disconnected", group)
                await self.leave(group, follower)
            except Exception:  # a closing socket must not stop the frame reaching the others
                log.warning("dropping a follower of %s that could not be sent to", group, exc_info=True)
                await self.leave(group, follower)

    # --- this process's channel --------------------------------------------------------------

    async def channel(self) -> str:
        if self._channel is None:
            self._channel = await self.layer.new_channel()
            self._reader = asyncio.create_task(self._read(self._channel), name="fanout-reader")
        return self._channel

    async def _read(self, channel: str) -> None:
        async for event in receive_forever(self.layer, channel, "fanout"):
            kind, group = event.get("type"), event.get("g")
            if kind == "relay" and event.get("from") != channel:  # our own: the local followers have it
                if "stops_before" in event:
                    self._stop(group, event["stops_before"])
                await self._deliver(group, event["frame"], None)
            elif kind == "fanout.follow" and event["by"] != channel and group in self.members:
                self.elsewhere.setdefault(group, set()).add(event["by"])
            elif kind == "fanout.unfollow" and group in self.elsewhere:
                self.elsewhere[group].discard(event["by"])

    def _follow_key(self, group: str) -> str:
        # Under the layer's prefix: another deployment (or test run) on the same Redis, whose
        # conversation ids may be the same, must not look like a follower.
        return f"{self.layer.prefix}:follow:{group}"

    redis = staticmethod(redis_client)


fanout = per_loop(Fanout)  # this event loop's (daphne has one loop; tests have many)
