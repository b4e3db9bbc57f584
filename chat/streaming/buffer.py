"""The text so far of every streaming answer, readable from any process.

Resuming clients read it; the database row is only checkpointed every few
seconds. settings.ANSWER_BUFFER picks the class: memory on the embedded default
(one process), Redis when REDIS_URL is set (many daphne processes).

Every buffer has the same interface: `start`, `append` (one delta), `flush`
(make the text so far readable from other processes), `get`, `finish`.
"""

from __future__ import annotations

from time import monotonic

from django.conf import settings
from django.utils.module_loading import import_string

from chat.streaming.loops import per_loop
from chat.streaming.redis_client import redis_client


class MemoryAnswerBuffer:
    """One process, so every reader sees the text as it grows: `flush` has nothing to do."""

    def __init__(self) -> None:
        self._texts: dict[int, list[str]] = {}
        self._expires: dict[int, float] = {}

    async def start(self, message_id: int) -> None:
        self._texts[message_id] = []

    async def append(self, message_id: int, text: str) -> None:
        self._texts.setdefault(message_id, []).append(text)

    async def flush(self, message_id: int) -> None:
        pass

    async def get(self, message_id: int) -> str | None:
        parts = self._texts.get(message_id)
        return None if parts is None else "".join(parts)

    async def finish(self, message_id: int) -> None:
        # Keep it briefly for clients resuming just after the end; the row has it too.
        now = monotonic()
        self._expires[message_id] = now + 60
        for mid in [m for m, t in self._expires.items() if t < now]:
            self._texts.pop(mid, None)
            self._expires.pop(mid, None)


class _Live:
    """An answer this process is streaming: its parts, and how many of them Redis has."""

    __slots__ = ("parts", "flushed", "flushed_at")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.flushed = 0  # parts[:flushed] are in Redis
        self.flushed_at = monotonic()


class RedisAnswerBuffer:
    """One Redis string per answer, written behind the stream.

    Why write-behind: an APPEND per delta was most of the per-chunk CPU we
    control, and almost always nobody reads it (the job runs where the player's
    socket is). So `append` records the delta here, and `flush` writes what
    Redis lacks in one go (SET the first time, then APPEND). Who reads what:
    - a resume in this process (the same event loop as the job, so the same
      `_live` map) gets the local text, exact up to the last delta sent;
    - a resume in another process reads Redis, which may be behind. The job
      flushes before a delta crosses to another process (chat/streaming/jobs.py),
      so Redis is never behind what any other process has been sent, and at
      least every ANSWER_BUFFER_FLUSH_SECONDS anyway; a reader that is still
      behind sees an offset gap, or an `end` whose `n` is longer than its text,
      and resumes again (docs/protocol.md).
    """

    _redis = staticmethod(redis_client)

    def __init__(self) -> None:
        # Per event loop: each loop stands for a process (tests run many), and a
        # loop must never serve another loop's answers from memory.
        self._live = per_loop(dict)

    @staticmethod
    def key(message_id: int) -> str:
        # Under the channel layer's prefix, like the fanout's keys: another deployment
        # (or test run) on the same Redis may have the same message ids.
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "csbot")
        return f"{prefix}:answer:{message_id}"

    async def start(self, message_id: int) -> None:
        # Nothing in Redis yet: the first write SETs the key. Until then a reader
        # elsewhere finds none and reads the row, whose text is "" so far.
        self._live()[message_id] = _Live()

    async def append(self, message_id: int, text: str) -> None:
        live = self._live().get(message_id)
        if live is None:
            live = self._live()[message_id] = _Live()
        live.parts.append(text)
        # Checked on each delta rather than by a timer task per answer: a reader elsewhere
        # is at most about this far behind. (When the upstream pauses, the last second's
        # deltas wait for the next delta or the end; that reader's client resumes then.)
        if monotonic() - live.flushed_at >= settings.ANSWER_BUFFER_FLUSH_SECONDS:
            await self.flush(message_id)

    async def flush(self, message_id: int) -> None:
        """Write to Redis what it lacks of the answer (nothing when it has it all)."""
        live = self._live().get(message_id)
        if live is None:
            return
        if len(live.parts) > live.flushed:
            await self._write(message_id, live, ttl=settings.ANSWER_BUFFER_TTL_SECONDS)
        live.flushed_at = monotonic()

    async def _write(self, message_id: int, live: _Live, *, ttl: int) -> None:
        """The parts Redis lacks, in one round trip: SET with the TTL the first time, then APPEND."""
        upto = len(live.parts)
        text = "".join(live.parts[live.flushed : upto]).encode()
        key = self.key(message_id)
        if live.flushed == 0:
            await self._redis().set(key, text, ex=ttl)
        else:
            async with self._redis().pipeline(transaction=False) as pipe:
                pipe.append(key, text)
                pipe.expire(key, ttl)
                await pipe.execute()
        # Only after it is in: a failed write is retried whole, never leaves a hole.
        live.flushed = upto

    async def get(self, message_id: int) -> str | None:
        live = self._live().get(message_id)
        if live is not None:
            return "".join(live.parts)
        raw = await self._redis().get(self.key(message_id))
        return None if raw is None else raw.decode()

    async def finish(self, message_id: int) -> None:
        # The row holds the final text by now (chat/resume.py reads it for finished
        # answers). An answer never flushed costs no Redis write at all: a reader
        # elsewhere that read the row just before it was finished gets the `end`,
        # whose `n` sends its client to resume from the finished row. A key that
        # exists gets the rest, for that reader, and lives one more minute.
        live = self._live().get(message_id)
        try:
            if live is not None and live.flushed == 0:
                return  # nothing in Redis
            if live is not None and len(live.parts) > live.flushed:
                await self._write(message_id, live, ttl=60)
            else:
                await self._redis().expire(self.key(message_id), 60)
        finally:
            # The row has the final text now (it is stored before finish is called).
            self._live().pop(message_id, None)


_buffer = None


def get_buffer():
    global _buffer
    if _buffer is None:
        _buffer = import_string(settings.ANSWER_BUFFER)()
    return _buffer


def reset_buffer() -> None:
    global _buffer
    _buffer = None
