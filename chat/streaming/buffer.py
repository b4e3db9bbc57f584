"""The text so far of every streaming answer, readable from any process.

Resuming clients read it; the database row is only checkpointed every few
seconds. settings.ANSWER_BUFFER picks the class: memory on the embedded default
(one process), Redis when REDIS_URL is set (many daphne processes).

Every buffer has the same interface: `start`, `append` (one delta), `flush`
(make the text so far readable from other processes), `get`, `finish`.
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings
from django.utils.module_loading import import_string

from chat.streaming.loops import per_loop
from chat.streaming.redis_client import redis_client

log = logging.getLogger(__name__)


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
        now = asyncio.get_running_loop().time()
        self._expires[message_id] = now + 60
        for mid in [m for m, t in self._expires.items() if t < now]:
            self._texts.pop(mid, None)
            self._expires.pop(mid, None)


class _Live:
    """An answer this process is streaming: its parts, and how much of them Redis has."""

    __slots__ = ("parts", "flushed", "flushed_bytes", "writing")

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.flushed = 0  # parts[:flushed] are in Redis
        self.flushed_bytes = 0  # their length in UTF-8: where the next write goes
        self.writing = asyncio.Lock()  # one write at a time per answer: none overlaps another


class _Here:
    """This event loop's answers, and the task that flushes them every interval."""

    __slots__ = ("answers", "flusher")

    def __init__(self) -> None:
        self.answers: dict[int, _Live] = {}
        self.flusher: asyncio.Task | None = None


class RedisAnswerBuffer:
    """One Redis string per answer, written behind the stream.

    Why write-behind: an APPEND per delta was most of the per-chunk CPU we
    control, and almost always nobody reads it (the job runs where the player's
    socket is). So `append` only records the delta here. Who reads what:
    - a resume in this process (the same event loop as the job, so the same
      map) gets the local text, exact up to the last delta sent;
    - a resume in another process reads Redis, which may be behind. The job
      flushes before a delta crosses to another process (chat/streaming/jobs.py),
      so Redis is never behind what any other process has been sent; and every
      ANSWER_BUFFER_FLUSH_SECONDS one task writes what Redis lacks of every
      answer here, in one pipeline. A reader that is still behind sees an
      offset gap, or an `end` whose `n` is longer than its text, and resumes
      again (docs/protocol.md).

    Why one task, not a write inside `append`: answers that start together would
    all write at the same moment, each on the stream's path. 500 answers at once
    on PostgreSQL (token pace) had chunks wait up to 1.2 s for their write, three
    seconds in (docs/benchmarks-history.md, "The twentieth round").

    Each write is SETRANGE at the bytes Redis already has, so a write that failed
    half-way (the text in, the EXPIRE not) is repeated whole without doubling text.
    """

    _redis = staticmethod(redis_client)

    def __init__(self) -> None:
        # Per event loop: each loop stands for a process (tests run many), and a
        # loop must never serve another loop's answers from memory.
        self._here = per_loop(_Here)

    @staticmethod
    def key(message_id: int) -> str:
        # Under the channel layer's prefix, like the fanout's keys: another deployment
        # (or test run) on the same Redis may have the same message ids.
        prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "csbot")
        return f"{prefix}:answer:{message_id}"

    async def start(self, message_id: int) -> None:
        # Nothing in Redis yet: the first write creates the key. Until then a reader
        # elsewhere finds none and reads the row, whose text is "" so far.
        here = self._here()
        here.answers[message_id] = _Live()
        if here.flusher is None and settings.ANSWER_BUFFER_FLUSH_SECONDS > 0:
            here.flusher = asyncio.create_task(self._flush_every_interval(here), name="answer-buffer-flush")

    async def append(self, message_id: int, text: str) -> None:
        live = self._here().answers.get(message_id)
        if live is None:
            await self.start(message_id)
            live = self._here().answers[message_id]
        live.parts.append(text)
        if settings.ANSWER_BUFFER_FLUSH_SECONDS <= 0:  # asked for every delta, on its path
            await self.flush(message_id)

    async def flush(self, message_id: int) -> None:
        """Write to Redis what it lacks of the answer (nothing when it has it all)."""
        live = self._here().answers.get(message_id)
        if live is not None:
            await self._write(message_id, live, ttl=settings.ANSWER_BUFFER_TTL_SECONDS)

    async def _write(self, message_id: int, live: _Live, *, ttl: int) -> None:
        """The parts Redis lacks, in one round trip (after any write of this answer in flight)."""
        async with live.writing:
            if len(live.parts) > live.flushed:
                await self._write_now(message_id, live, ttl)

    async def _write_now(self, message_id: int, live: _Live, ttl: int) -> None:
        async with self._redis().pipeline(transaction=False) as pipe:
            upto, size = self._queue(pipe, message_id, live, ttl)
            await pipe.execute()
        # Only after it is in: a failed write is retried whole, never leaves a hole.
        live.flushed, live.flushed_bytes = upto, size

    def _queue(self, pipe, message_id: int, live: _Live, ttl: int) -> tuple[int, int]:
        """Queue an answer's missing text on `pipe`; returns what it will have flushed then."""
        upto = len(live.parts)
        text = "".join(live.parts[live.flushed : upto]).encode()
        key = self.key(message_id)
        pipe.setrange(key, live.flushed_bytes, text)
        pipe.expire(key, ttl)
        return upto, live.flushed_bytes + len(text)

    async def _flush_every_interval(self, here: _Here) -> None:
        """Every ANSWER_BUFFER_FLUSH_SECONDS, every answer here that Redis is behind on, in one
        pipeline; ends when no answer is left here (the next `start` starts it again)."""
        try:
            while here.answers:
                await asyncio.sleep(settings.ANSWER_BUFFER_FLUSH_SECONDS)
                try:
                    await self._flush_behind(here)
                except Exception:  # Redis away for a while: the next interval writes it all
                    log.exception("flushing the answer buffer to Redis failed")
        finally:
            here.flusher = None

    async def _flush_behind(self, here: _Here) -> None:
        ttl = settings.ANSWER_BUFFER_TTL_SECONDS
        # An answer whose own write is in flight is left to it. The locks taken here are
        # free, so taking them does not wait.
        behind = [
            (message_id, live)
            for message_id, live in here.answers.items()
            if len(live.parts) > live.flushed and not live.writing.locked()
        ]
        if not behind:
            return
        for _, live in behind:
            await live.writing.acquire()
        try:
            async with self._redis().pipeline(transaction=False) as pipe:
                done = [(live, self._queue(pipe, message_id, live, ttl)) for message_id, live in behind]
                await pipe.execute()
            for live, (upto, size) in done:
                live.flushed, live.flushed_bytes = upto, size
        finally:
            for _, live in behind:
                live.writing.release()

    async def get(self, message_id: int) -> str | None:
        live = self._here().answers.get(message_id)
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
        live = self._here().answers.get(message_id)
        try:
            if live is None:
                await self._redis().expire(self.key(message_id), 60)
                return
            async with live.writing:  # after a write in flight, so `flushed` is exact
                if live.flushed == 0:
                    return  # nothing in Redis
                if len(live.parts) > live.flushed:
                    await self._write_now(message_id, live, 60)
                else:
                    await self._redis().expire(self.key(message_id), 60)
        finally:
            # The row has the final text now (it is stored before finish is called).
            self._here().answers.pop(message_id, None)


_buffer = None


def get_buffer():
    global _buffer
    if _buffer is None:
        _buffer = import_string(settings.ANSWER_BUFFER)()
    return _buffer


def reset_buffer() -> None:
    global _buffer
    _buffer = None
