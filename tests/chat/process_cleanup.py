"""One event loop stands for one daphne process in these tests; this closes what it opened."""

from __future__ import annotations

from chat.streaming.fanout import Fanout, fanout
from chat.streaming.jobs import registry
from chat.streaming.redis_client import redis_client


async def close_process(*others: Fanout) -> None:
    """Stop this loop's readers and Redis connections before pytest closes the loop."""
    for task in (fanout()._reader, registry()._reader, *(f._reader for f in others)):
        if task is not None:
            task.cancel()
    await redis_client().aclose()
