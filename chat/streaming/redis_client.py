"""This event loop's asyncio Redis client (REDIS_URL), shared by the answer buffer and the fanout.

redis.asyncio connections belong to the loop that opened them (chat/streaming/loops.py).
"""

from __future__ import annotations

from django.conf import settings

from chat.streaming.loops import per_loop


def _connect():
    import redis.asyncio as aioredis

    return aioredis.from_url(settings.REDIS_URL, max_connections=200)


redis_client = per_loop(_connect)
