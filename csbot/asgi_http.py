"""Django's ASGI handler, with each request's thread taken from a pool instead of started for it.

Django runs every HTTP request in a `ThreadSensitiveContext`: the request's
thread-sensitive sync code (the `request_started` and `request_finished`
signals' receivers on every request, a sync view, a session save) runs on a
thread of its own, which asgiref starts at the request's first such call and
joins from yet another new thread at its end. The player page is async, yet
the signals alone started two threads per load, and starting one blocks the
event loop until the new thread runs (`Thread.start` waits for it): under a
burst of players, a fifth of the web process's event-loop samples
(docs/benchmarks-history.md, "The eighteenth round"), while every answer in the
process waited on that loop.

Here a request borrows a single-thread executor for its whole length and
gives it back after: one request's sync code still runs on one thread, never
shared with another request at the same time, as a WSGI server's thread pool
serves requests. Per-thread state outlives a request as under WSGI: a
database connection is kept or closed by the request signals as
CONN_MAX_AGE says. Idle executors beyond IDLE_KEPT are shut down without
waiting, so a burst's threads do not stay. As with any executor given to a
ThreadSensitiveContext, a task that a request starts must finish with the
request: its thread-sensitive calls after the request ends raise RuntimeError.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import ThreadSensitiveContext
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.handlers.asgi import ASGIHandler

from csbot import static_files

IDLE_KEPT = 32


class ExecutorPool:
    """Single-thread executors lent to one request at a time, newest-returned first."""

    def __init__(self, idle_kept: int = IDLE_KEPT) -> None:
        self.idle: list[ThreadPoolExecutor] = []
        self.idle_kept = idle_kept

    def borrow(self) -> ThreadPoolExecutor:
        # A new executor starts its thread at its first call only: a request with no
        # thread-sensitive work costs nothing more than this object.
        try:
            return self.idle.pop()
        except IndexError:
            return ThreadPoolExecutor(1, thread_name_prefix="csbot-request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        # Work a cancelled request left running on it finishes before the next request's.
        if len(self.idle) < self.idle_kept:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


class PooledThreadsMixin:
    """ASGIHandler.__call__ with the request's ThreadSensitiveContext on a borrowed executor."""

    threads = ExecutorPool()  # the process's: every handler instance lends from it

    async def serve_in_context(self, scope, receive, send) -> None:
        executor = self.threads.borrow()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            self.threads.give_back(executor)


class PooledThreadsASGIHandler(PooledThreadsMixin, ASGIHandler):
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.serve_in_context(scope, receive, send)


class PooledThreadsStaticFilesHandler(PooledThreadsMixin, ASGIStaticFilesHandler):
    """Static files (when the app serves them, SERVE_STATIC) the same way."""

    def serve(self, request):
        # The hashed names collectstatic wrote, when the pages link them (csbot/static_files.py).
        return static_files.serve(request, self.file_path(request.path))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and self._should_handle(scope["path"]):
            await self.serve_in_context(scope, receive, send)
            return
        await self.application(scope, receive, send)
