"""The HTTP side of csbot.asgi: a request's sync work runs on a thread lent to it (csbot/asgi_http.py)."""

from __future__ import annotations

import asyncio
import threading
import time

from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_started

from csbot.asgi_http import ExecutorPool


async def _get(path: str) -> int:
    from csbot.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    http = ApplicationCommunicator(application, scope)
    await http.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await http.receive_output(10)
    while (await http.receive_output(10)).get("more_body"):
        pass
    return start["status"]


class _Threads:
    """The threads that Django's request_started receivers ran on, one entry per request."""

    def __init__(self, hold: float = 0.0) -> None:
        self.seen: list[int] = []
        self.hold = hold

    def __call__(self, **kwargs) -> None:
        self.seen.append(threading.get_ident())
        time.sleep(self.hold)

    def __enter__(self) -> _Threads:
        request_started.connect(self)
        return self

    def __exit__(self, *exc) -> None:
        request_started.disconnect(self)


async def test_requests_one_after_another_run_their_sync_work_on_one_reused_thread():
    with _Threads() as threads:
        statuses = [await _get("/healthz") for _ in range(5)]
    assert statuses == [200] * 5
    assert len(threads.seen) == 5
    assert len(set(threads.seen)) == 1, "a thread was started for each request"
    assert threads.seen[0] != threading.get_ident()  # never the event loop's


async def test_requests_at_the_same_time_each_have_a_thread_of_their_own():
    # Each request's receiver holds its thread a while, so that all three are in flight at once.
    with _Threads(hold=0.3) as threads:
        statuses = await asyncio.gather(_get("/healthz"), _get("/static/chat/player.js"), _get("/healthz"))
    assert statuses == [200, 200, 200]
    assert len(set(threads.seen)) == 3


def test_a_bursts_surplus_threads_are_let_go_and_the_rest_kept():
    pool = ExecutorPool(idle_kept=2)
    lent = [pool.borrow() for _ in range(4)]
    idents = [executor.submit(threading.get_ident).result(5) for executor in lent]
    for executor in lent:
        pool.give_back(executor)
    assert pool.idle == lent[:2]
    assert all(executor._shutdown for executor in lent[2:])
    # The next request gets a thread that is already running.
    again = pool.borrow()
    assert again.submit(threading.get_ident).result(5) in idents
