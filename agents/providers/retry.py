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

from .base import ChatRequest, Delta, Finish, FunctionCall, Provider, ProviderError, StreamItem

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
    require_text: bool = False,
    on_wait: Callable[[ProviderError, float], Awaitable[object]] | None = None,
) -> AsyncIterator[StreamItem]:
    """Yield the provider's stream, starting it again on a retryable error before the first Delta.

    `require_text`: a model that ends without a word (nor a call of a tool it was offered) has failed, as an
    error before its first token would: the player would read an empty answer.

    A rate limit is waited out for up to LLM_RATE_LIMIT_WAIT seconds, as long as the upstream
    asks (Retry-After) or with a growing backoff: the quota refreshes within a minute, and a
    player who waits a little longer for the bot is better served than one handed to the
    queue, with every other player the limit hit at the same moment. Other retryable errors
    get LLM_MAX_ATTEMPTS attempts. The waits are the task's sleeps: no thread is held.

    `before_attempt` is awaited before every upstream attempt (the answer job checks that
    no human has taken over); whatever it raises propagates. `on_wait(error, seconds)` is
    awaited before each wait for another attempt (the job tells a player it keeps waiting).
    """
    attempts = max(1, attempts if attempts is not None else settings.LLM_MAX_ATTEMPTS)
    backoff = settings.LLM_RETRY_BACKOFF if backoff is None else backoff
    began = time.monotonic()
    failed = limited = 0  # attempts that failed, and those of them a rate limit refused
    while True:
        if before_attempt is not None:
            await before_attempt()
        started = spoke = False
        async with contextlib.aclosing(provider.stream(request)) as upstream:
            while True:
                # Only errors of the upstream are caught, never one thrown in by our consumer.
                try:
                    item = await anext(upstream)
                    if require_text and not spoke and _ends_empty(item):
                        raise _empty(provider)
                except StopAsyncIteration:
                    return
                except ProviderError as exc:
                    if started or not exc.retryable:
                        raise
                    limited += exc.rate_limited
                    failed += not exc.rate_limited
                    wait = _wait(exc, failed if not exc.rate_limited else limited, backoff)
                    _give_up_unless_worth_it(exc, failed=failed, attempts=attempts, began=began, wait=wait)
                    logger.warning("%s attempt failed, retrying in %.1f s: %s", provider.name, wait, exc)
                    failure = exc  # `exc` ends with its except clause
                    break
                started = started or isinstance(item, Delta)
                # A call is an answer only when tools were offered: after a lookup the model is
                # offered none, and a call then, with no word, would leave the player an empty bubble.
                spoke = spoke or isinstance(item, Delta) or (isinstance(item, FunctionCall) and bool(request.functions))
                yield item
        if on_wait is not None:
            await on_wait(failure, wait)
        await asyncio.sleep(wait)


def _empty(provider: Provider) -> ProviderError:
    # Retryable: the same question sent again usually gets an answer.
    return ProviderError(f"{provider.name} ended its answer without a word", retryable=True, code="empty")


def _ends_empty(item: StreamItem) -> bool:
    """A Finish before any text. Not the content filter's: that failure says what it is."""
    return isinstance(item, Finish) and item.finish_reason != "content_filter"


def _wait(exc: ProviderError, failures: int, backoff: float) -> float:
    """Seconds before the next attempt, the `failures`-th of its kind."""
    if exc.retry_after is not None:
        # Jitter: the players the same limit refused must not all come back in the same instant.
        return exc.retry_after + random.uniform(0, backoff)
    return _delay(failures, backoff)


def _give_up_unless_worth_it(exc: ProviderError, *, failed: int, attempts: int, began: float, wait: float) -> None:
    """Raise what the player's answer fails with when another attempt is not worth it.

    The error says why for staff, who read it in the chat's history: a rate limit that
    outlasted the wait says how long the player waited, and what to raise if it is the quota.
    """
    waited = time.monotonic() - began
    if exc.rate_limited:
        budget = settings.LLM_RATE_LIMIT_WAIT
        if waited + wait > budget:
            asked = f", asked to wait {exc.retry_after:.0f} s more" if exc.retry_after is not None else ""
            raise ProviderError(
                f"{exc.message}: still rate-limited after {waited:.1f} s{asked} "
                f"(LLM_RATE_LIMIT_WAIT is {budget:g} s; the provider's quota may be too small)",
                code=exc.code,
            ) from exc
    elif failed >= attempts or _waited_enough(began):
        raise exc


def _waited_enough(began: float) -> bool:
    """The player has already waited a whole read timeout (an upstream that stayed silent):
    another attempt could keep them looking at the typing dots as long again, each time."""
    return time.monotonic() - began >= settings.LLM_READ_TIMEOUT


def _delay(attempt: int, backoff: float) -> float:
    # Jitter spreads out the players who all hit the same rate limit at once.
    return min(backoff * 2 ** (attempt - 1) + random.uniform(0, backoff), MAX_BACKOFF_SECONDS)
