"""Helper processes: a player message's heavier sync work, away from the streams' GIL.

Storing a player's message and preparing the bot's answer (its row, then the
pipeline: context, intent, facts, retrieval, prompt) cost a few milliseconds
of CPU each, mostly Python: the ORM, psycopg, the index. In csbot/db.py's
thread pool that CPU takes the web process's GIL from the event loop, which
relays every running answer's chunks. When many questions arrive at once, a
loop sharing the GIL with six busy threads gets a seventh of it, and the
chunks of answers already streaming wait (docs/benchmarks.md, "The fifth
round": chunk delay p99 36-71 ms at 100 players, 3-6 ms with this pool). A
thread can't be given a lower priority than the loop; a process can.

So each web process keeps a few helper processes (settings.HELPER_PROCESSES),
started with `spawn` and lowered by settings.HELPER_NICE: the kernel runs the
streams first and the preparation with what CPU is left. `HELPER_PROCESSES=0`
runs the same calls in csbot/db.py's threads (the tests' in-process apps,
whose database transactions a helper could not see).

What runs here must be a module-level function whose arguments and result
pickle (model instances do). It gets its own database connection and its own
knowledge index (agents/cache.py rechecks versions, as across web processes).
A helper never publishes to the channel layer: on the embedded default the
layer lives in the web process, so callers publish after the call returns, as
they already do (chat/services.py). Helpers stop with their web process: at
its exit, or within a second of it being killed outright (`_exit_with`).
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

from django.conf import settings

from csbot.db import in_worker

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

_executor: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def _start_helper(nice: int, databases: dict) -> None:
    """In a new helper process: Django, lowered priority, the knowledge index loaded."""
    # Ctrl-C reaches the whole process group; the web process stops its helpers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # ... unless it is killed outright (SIGKILL, out of memory): then nobody would.
    threading.Thread(target=_exit_with, args=(os.getppid(),), name="helper-orphan-check", daemon=True).start()
    if nice:
        os.nice(nice)
    import django
    from django.conf import settings as helper_settings

    # The web process's databases as it runs them (a test run renames them), with a
    # connection pool of one or two: a helper runs one call at a time.
    for database in databases.values():
        pool = database.get("OPTIONS", {}).get("pool")
        if isinstance(pool, dict):
            database["OPTIONS"]["pool"] = {**pool, "min_size": 1, "max_size": 2}
    helper_settings.DATABASES = databases
    django.setup()
    from django.db import close_old_connections

    from agents.knowledge.retrieval import warm_up

    try:
        warm_up()
    except Exception:  # an empty or not-yet-migrated database: the first question builds it
        log.debug("helper warm-up skipped", exc_info=True)
    finally:
        close_old_connections()
    # What is loaded now lives as long as the helper: keep it out of every collection.
    gc.collect()
    gc.freeze()


def _exit_with(parent: int) -> None:
    """In a helper: exit once the web process is gone (the helper is then re-parented)."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_SECONDS)
    os._exit(0)


ORPHAN_CHECK_SECONDS = 1.0


def _run(function: Callable[..., R], args: tuple, kwargs: dict) -> R:
    """In a helper: one call, with the connection hygiene of csbot/db.py's threads."""
    from django.db import close_old_connections

    close_old_connections()
    try:
        return function(*args, **kwargs)
    finally:
        close_old_connections()


def _ready() -> None:
    pass


def _pool() -> ProcessPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ProcessPoolExecutor(
                max_workers=settings.HELPER_PROCESSES,
                # Not fork: the web process has an event loop, threads and open sockets.
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
                initargs=(settings.HELPER_NICE, settings.DATABASES),
            )
        return _executor


def _replace(broken: ProcessPoolExecutor) -> None:
    global _executor
    with _lock:
        if _executor is broken:
            _executor = None
    broken.shutdown(wait=False, cancel_futures=True)


def start() -> list[int]:
    """Start every helper now (each loads Django and the index, about a second), not on the
    first question. Blocks; returns the helpers' pids. Nothing to do with HELPER_PROCESSES=0."""
    if settings.HELPER_PROCESSES <= 0:
        return []
    pool = _pool()
    # One call per helper: a pool starts a new process for each call while none is idle.
    for future in [pool.submit(_ready) for _ in range(settings.HELPER_PROCESSES)]:
        future.result()
    return sorted(pool._processes)  # each ran its initializer; either may have taken both calls


def shutdown() -> None:
    """Stop the helpers (tests; at exit concurrent.futures does it)."""
    global _executor
    with _lock:
        pool, _executor = _executor, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


async def in_helper(function: Callable[..., R], *args, **kwargs) -> R:
    """`function(*args, **kwargs)` in a helper process (in a thread with HELPER_PROCESSES=0).

    As with csbot/db.py, cancelling the caller doesn't stop a call that has started.
    A helper that died (killed, out of memory) fails its call and is replaced for
    the next one: calls that had not started go to the new pool.
    """
    if settings.HELPER_PROCESSES <= 0:
        return await in_worker(function, *args, **kwargs)
    _check_importable(function)
    for _attempt in range(2):
        pool = _pool()
        try:
            future = pool.submit(_run, function, args, kwargs)
        except BrokenProcessPool:
            log.error("a helper process died; starting new helpers")
            _replace(pool)
            continue
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            log.error("a helper process died during %s; starting new helpers", function.__qualname__)
            _replace(pool)
            raise
    raise BrokenProcessPool("helper processes could not be started")


_checked: set[Callable] = set()


def _check_importable(function: Callable) -> None:
    """A helper finds the function by its module and name (pickle): a decorated or local
    function would be found as something else, or not at all."""
    if function in _checked:
        return
    found = importlib.import_module(function.__module__)
    for part in function.__qualname__.split("."):
        found = getattr(found, part, None)
    if found is not function:
        raise TypeError(f"{function.__module__}.{function.__qualname__} is not importable by that name")
    _checked.add(function)


def helper_pool(fn: Callable[P, R]) -> Callable[P, asyncio.Future[R]]:  # noqa: F821
    """`fn` as a coroutine function that runs it in a helper process (in_helper).

    Not a decorator: `fn` must stay importable by its own name, e.g.
    `_receive = helper_pool(services.player_message_receive)`.
    """

    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await in_helper(fn, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"helper_pool({fn.__qualname__})"
    run.__doc__ = fn.__doc__
    return run
