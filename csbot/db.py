"""Running ORM and CPU work from async code, off the event loop.

Channels' database_sync_to_async runs everything on ONE shared thread
(thread_sensitive=True). The answer jobs and the pipeline use a pool of
threads instead, so that a thousand chats starting at once do not queue behind
each other and behind every socket's connect. Each call closes stale
connections like Channels does, since pool threads outlive requests.

Why not asgiref's sync_to_async(thread_sensitive=False): on every call it walks
the whole contextvars context twice to carry asgiref `Local` values into the
thread and back (asgiref 3.13's `_restore_context`), which was the largest
single overhead of a chat's ~40 hops (docs/benchmarks-history.md, "The third round").
Nothing called through here needs the caller's `Local` values (the active
translation, the URL prefix): these functions take the language as an argument.
They still see the caller's plain contextvars (a copy), and async_to_sync inside
them runs on the caller's loop, as with sync_to_async.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

P = ParamSpec("P")
R = TypeVar("R")

# Threads, not processes: the work is short ORM calls that wait on the database.
# settings.DB_THREADS, by default like the loop's default executor (min(32, cores + 4));
# one pool per process for every event loop, so tests that run many loops do not leave
# pools behind.
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=settings.DB_THREADS, thread_name_prefix="db")
    return _pool


def _in_thread(loop: asyncio.AbstractEventLoop, context: contextvars.Context, call: Callable[[], R]) -> R:
    # What AsyncToSync looks for to run a coroutine on the caller's loop.
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    close_old_connections()
    try:
        return context.run(call)
    finally:
        close_old_connections()


def in_worker(function: Callable[..., R], *args, **kwargs) -> asyncio.Future[R]:  # noqa: F821
    """Call `function(*args, **kwargs)` in a pool thread, and await it.

    Cancelling the awaiting task does not stop the call: it finishes (or fails)
    in its thread, as with sync_to_async.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(function, *args, **kwargs)
    return loop.run_in_executor(_executor(), _in_thread, loop, contextvars.copy_context(), call)


def db_pool(fn: Callable[P, R]) -> Callable[P, asyncio.Future[R]]:  # noqa: F821
    """`fn` as a coroutine function that runs it in a pool thread (in_worker)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await in_worker(fn, *args, **kwargs)

    return run


class RepeatedFailure:
    """The log of a loop that retries a database call (a heartbeat, a sweep): its first
    failure in a row, not each one.

    While PostgreSQL was away each such loop logged a seventy-line traceback every few
    seconds, which buried everything else; the outage itself is told once, with a reminder
    and when it is over, by csbot.db (csbot/log_filters.py, DatabaseOutage). A failure that
    is not the database being away (a bug) keeps its traceback, every time.
    """

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.failing = False

    def failed(self) -> None:
        """Call in the `except` block."""
        error = sys.exc_info()[1]
        if not isinstance(error, (OperationalError, InterfaceError)):
            self.logger.exception("%s failed", self.what)
        elif not self.failing:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            self.logger.warning("%s failed: %s (said once while the database is away)", self.what, first_line)
        self.failing = True

    def succeeded(self) -> None:
        self.failing = False
