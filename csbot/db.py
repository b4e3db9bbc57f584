"""Running ORM and CPU work from async code, off the event loop.

Channels' database_sync_to_async runs everything on ONE shared thread
(thread_sensitive=True). The answer jobs and the pipeline use a small pool of
threads instead, so that a thousand chats starting at once do not queue behind
each other and behind every socket's connect. Each call closes stale
connections like Channels does, since pool threads outlive requests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

P = ParamSpec("P")
R = TypeVar("R")


def db_pool(fn: Callable[P, R]) -> Callable[P, asyncio.Future[R]]:  # noqa: F821
    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)


def in_worker(function: Callable[..., R], *args, **kwargs) -> asyncio.Future[R]:  # noqa: F821
    """Call `function(*args, **kwargs)` once in a worker thread (db_pool for a single call)."""
    return db_pool(function)(*args, **kwargs)
