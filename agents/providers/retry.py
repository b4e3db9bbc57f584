"""Retry an LLM stream, but only while the player has seen nothing of it.

Once a Delta has been yielded, a retry would show the start of a second,
different answer after the first one; so from then on every error propagates
unchanged and the caller decides what to tell the player.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from django.conf import settings

from .base import ChatRequest, Delta, Provider, ProviderError, StreamItem

logger = logging.getLogger(__name__)

# The player is waiting: never sleep longer than this between two attempts.
MAX_BACKOFF_SECONDS = 8.0


async def stream_with_retry(
    provider: Provider,
    request: ChatRequest,
    *,
    attempts: int | None = None,
    backoff: float | None = None,
    before_attempt: Callable[[], Awaitable[object]] | None = None,
) -> AsyncIterator[StreamItem]:
    """Yield the provider's stream, starting it again on a retryable error before the first Delta.

    `before_attempt` is awaited before every upstream attempt (the answer job
    checks that no human has taken over); whatever it raises propagates.
    """
    attempts = max(1, attempts if attempts is not None else settings.LLM_MAX_ATTEMPTS)
    backoff = settings.LLM_RETRY_BACKOFF if backoff is None else backoff
    began = time.monotonic()
    for attempt in range(1, attempts + 1):
        if before_attempt is not None:
            await before_attempt()
        started = False
        async with contextlib.aclosing(provider.stream(request)) as upstream:
            while True:
                # Only errors of the upstream are caught, never one thrown in by our consumer.
                try:
                    item = await anext(upstream)
                except StopAsyncIteration:
                    return
                except ProviderError as exc:
                    if started or not exc.retryable or attempt == attempts or _waited_enough(began):
                        raise
                    logger.warning("%s attempt %d/%d failed, retrying: %s", provider.name, attempt, attempts, exc)
                    break
                started = started or isinstance(item, Delta)
                yield item
        await asyncio.sleep(_delay(attempt, backoff))


def _waited_enough(began: float) -> bool:
    """The player has already waited a whole read timeout (an upstream that stayed silent):
    another attempt could keep them looking at the typing dots as long again, each time."""
    return time.monotonic() - began >= settings.LLM_READ_TIMEOUT


def _delay(attempt: int, backoff: float) -> float:
    # Jitter spreads out the players who all hit the same rate limit at once.
    return min(backoff * 2 ** (attempt - 1) + random.uniform(0, backoff), MAX_BACKOFF_SECONDS)
