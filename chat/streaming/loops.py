"""One instance of a class per running event loop, and reading its channel.

Tasks, futures and connections belong to the loop that made them: daphne has
one loop for its life, but tests (and async_to_sync from a thread with no loop)
run many. Instances of loops that have closed are dropped on the next lookup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def per_loop(factory: Callable[[], T]) -> Callable[[], T]:
    instances: dict[asyncio.AbstractEventLoop, T] = {}

    def current() -> T:
        loop = asyncio.get_running_loop()
        if loop not in instances:
            for old in [lp for lp in instances if lp.is_closed()]:
                del instances[old]
            instances[loop] = factory()
        return instances[loop]

    return current


async def receive_forever(layer, channel: str, what: str) -> AsyncIterator[dict]:
    """The events of a process-local channel, for the life of the loop.

    A broken layer connection is logged and retried: it must not end
    cancellation or delivery for good.
    """
    while True:
        try:
            event = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s channel failed; retrying", what)
            await asyncio.sleep(1)
            continue
        yield event
