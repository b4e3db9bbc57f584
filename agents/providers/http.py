"""One shared aiohttp session per running event loop.

A ClientSession is bound to the loop it was created on, and reusing its
keep-alive pool saves a TCP+TLS handshake on every answer. Daphne runs one loop
for the whole process; tests, Celery tasks and `asyncio.run()` callers create
many, so sessions are keyed by loop, and each closes itself when its loop
shuts down (see _closer), so callers need no cleanup of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import AsyncGenerator, Mapping

import aiohttp
from django.conf import settings

from .base import ProviderError

# After an answer's last chunk, read the rest of the body (the chunked
# terminator) for at most this long so the connection can be reused.
DRAIN_SECONDS = 1.0

_sessions: dict[asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]] = {}


def client_timeout() -> aiohttp.ClientTimeout:
    """No cap on the whole stream (answers can be long), but one on every silence.

    Pass it on each request: tests change LLM_READ_TIMEOUT after the session exists.
    """
    return aiohttp.ClientTimeout(
        total=None,
        connect=settings.LLM_CONNECT_TIMEOUT,
        sock_read=settings.LLM_READ_TIMEOUT,
    )


def get_session() -> aiohttp.ClientSession:
    """The session for the running loop, created on first use (call from a coroutine)."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(loop)
    if entry is None or entry[0].closed:
        _forget_dead_loops()
        session = aiohttp.ClientSession(
            timeout=client_timeout(),
            # One connection per streaming answer: the default limit of 100 would
            # queue the 101st concurrent player behind a whole answer.
            connector=aiohttp.TCPConnector(limit=0),
        )
        entry = _sessions[loop] = (session, _closer(loop, session))
    return entry[0]


async def close_session() -> None:
    """Close the running loop's session now (it also closes itself with its loop)."""
    entry = _sessions.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry[1].aclose()


def _closer(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    """An async generator whose only job is to be closed with the loop, closing the session.

    asyncio.run(), asyncio.Runner and pytest-asyncio all await
    loop.shutdown_asyncgens() before closing a loop, which closes every async
    generator started on it. Without this, a session left open when its loop
    ends leaks its sockets and logs "Unclosed client session" at exit.
    """

    async def closer() -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            if _sessions.get(loop, (None,))[0] is session:
                del _sessions[loop]
            await session.close()

    generator = closer()
    # Start it, synchronously, to register it with the running loop: the body
    # reaches its `yield` without awaiting anything, so one send() gets there.
    with contextlib.suppress(StopIteration):
        generator.asend(None).send(None)
    return generator


def _forget_dead_loops() -> None:
    """Drop sessions of loops closed without shutdown_asyncgens (a bare loop.close())."""
    for loop in [loop for loop in _sessions if loop.is_closed()]:
        session, _ = _sessions.pop(loop)
        connector = session.connector
        session.detach()
        if connector is not None:
            # Nothing can be awaited on a closed loop; the private synchronous
            # close marks the pool closed so its __del__ stays quiet.
            connector._close()


async def drain(resp: aiohttp.ClientResponse) -> None:
    """Finish reading a response whose content we no longer need, best effort."""
    if resp.content.at_eof():
        return
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with asyncio.timeout(DRAIN_SECONDS):
            await resp.content.read()


def network_error(exc: BaseException, what: str) -> ProviderError:
    """A ProviderError for a failed connection or a silence longer than the read timeout.

    The URL is left out of the message on purpose: its query string can hold a
    secret key or an access token.
    """
    if isinstance(exc, TimeoutError):
        return ProviderError(f"{what} timed out", retryable=True, code="timeout")
    return ProviderError(f"{what} failed: {type(exc).__name__}: {exc}", retryable=True, code="connection")


def retry_after(headers: Mapping[str, str]) -> float | None:
    """The seconds a reply asks us to wait before the next request, or None when it doesn't say.

    `Retry-After` is seconds or an HTTP date (RFC 9110); OpenAI's own API also sends
    `retry-after-ms`, the more precise of the two.
    """
    with contextlib.suppress(ValueError, TypeError):
        if (ms := headers.get("retry-after-ms")) is not None:
            return max(float(ms) / 1000, 0.0)
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    with contextlib.suppress(ValueError):
        return max(float(value), 0.0)
    with contextlib.suppress(ValueError, TypeError):
        return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    return None
