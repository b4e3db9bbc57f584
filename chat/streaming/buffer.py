"""The text so far of every streaming answer, readable from any process.

Resuming clients read it; the database row is only checkpointed every few
seconds. settings.ANSWER_BUFFER picks the class: memory on the embedded default
(one process), Redis when REDIS_URL is set (many daphne processes).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.utils.module_loading import import_string

from chat.streaming.redis_client import redis_client


class MemoryAnswerBuffer:
    def __init__(self) -> None:
        self._texts: dict[int, list[str]] = {}
        self._expires: dict[int, float] = {}

    async def start(self, message_id: int) -> None:
        self._texts[message_id] = []

    async def append(self, message_id: int, text: str) -> None:
        self._texts.setdefault(message_id, []).append(text)

    async def get(self, message_id: int) -> str | None:
        parts = self._texts.get(message_id)
        return None if parts is None else "".join(parts)

    async def finish(self, message_id: int) -> None:
        # Keep it briefly for clients resuming just after the end; the row has it too.
        now = time.monotonic()
        self._expires[message_id] = now + 60
        for mid in [m for m, t in self._expires.items() if t < now]:
            self._texts.pop(mid, None)
            self._expires.pop(mid, None)


class RedisAnswerBuffer:
    """One Redis string per answer, grown with APPEND (O(1) per delta)."""

    _redis = staticmethod(redis_client)

    @staticmethod
    def _key(message_id: int) -> str:
        return f"csbot:answer:{message_id}"

    async def append(self, message_id: int, text: str) -> None:
        await self._redis().append(self._key(message_id), text.encode())

    async def start(self, message_id: int) -> None:
        await self._redis().set(self._key(message_id), b"", ex=settings.ANSWER_BUFFER_TTL_SECONDS)

    async def get(self, message_id: int) -> str | None:
        raw = await self._redis().get(self._key(message_id))
        return None if raw is None else raw.decode()

    async def finish(self, message_id: int) -> None:
        await self._redis().expire(self._key(message_id), 60)


_buffer = None


def get_buffer():
    global _buffer
    if _buffer is None:
        _buffer = import_string(settings.ANSWER_BUFFER)()
    return _buffer


def reset_buffer() -> None:
    global _buffer
    _buffer = None
