"""Helper processes: a player's heavier sync work, away from the streams' GIL.

Storing a player's message and preparing the bot's answer (its row, then the
pipeline: context, intent, facts, retrieval, prompt) cost a few milliseconds
of CPU each, mostly Python: the ORM, psycopg, the index; so do a player's
arrival (the page, the socket's connect and resume). In csbot/db.py's
thread pool that CPU takes the web process's GIL from the event loop, which
relays every running answer's chunks. When many questions arrive at once, a
loop sharing the GIL with six busy threads gets a seventh of it, and the
chunks of answers already streaming wait (docs/benchmarks-history.md, "The fifth
round": chunk delay p99 36-71 ms at 100 players, 3-6 ms with helpers). A
thread can't be given a lower priority than the loop; a process can.

So each web process keeps a few helper processes (settings.HELPER_PROCESSES),
started with `spawn` and lowered by settings.HELPER_NICE: the kernel runs the
streams first and the preparation with what CPU is left. `HELPER_PROCESSES=0`
runs the same calls in csbot/db.py's threads (the tests' in-process apps,
whose database transactions a helper could not see).

A helper says READY once it has set up (Django, the index: a second or two
after a start, more on a busy machine); until one has, calls run in csbot/db.py's
threads, so that the first players after a start or a deploy don't wait for
the helpers.

Each helper is one pipe that the event loop itself reads (`add_reader`): a
call is one pickle written, its result one pickle read, with no thread of
the pool's own in the web process. (concurrent.futures' process pool costs
the web process ~0.8 ms per call in its manager and feeder threads and their
wake-ups: "The fifth round".) A helper runs one call at a time, and while it
runs one it may already hold the next question's call in its pipe
(settings.HELPER_QUESTIONS_AHEAD), when questions are queueing (at least as
many waiting as there are helpers): it goes on to that one at once instead of
waiting for this loop to read its reply and write the next call, which under
load, with many answers streaming, the loop gets to only after their chunks
("The seventeenth round"). Other calls wait in
order for a free helper, highest `priority` first: a question's call
(storing it and starting its answer, in one) and, on PostgreSQL, an answer's finish;
then a socket's connect and resume; then page loads and answers'
checkpoints. When more players arrive than the helpers keep up with, the
players already asking get their first tokens, a player whose page has loaded
gets their socket (daphne drops a WebSocket not accepted within 5 s), and the
page loads wait: the browser waits for a page as long as it takes. Nothing
starves for good, since a player must load the page before connecting and
connect before asking.

What runs here must be a module-level function whose arguments and result
pickle (model instances do). A helper has its own database connection and its
own knowledge index (agents/cache.py rechecks versions, as across web
processes), and never publishes to the channel layer: on the embedded default
the layer lives in the web process, so callers publish after the call returns,
as they already do (chat/services.py). A helper that dies fails its call and
is replaced; helpers exit when their web process does, even when it is killed
outright (their pipe closes), and even while they are still setting up.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection, wait
from typing import ParamSpec, TypeVar

from django.conf import settings

from csbot.db import in_worker
from csbot.runner import runner_adopt, runner_name

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class HelperDied(BrokenProcessPool):
    """The helper running the call exited (killed, out of memory): the call may or may not have run."""


class HelperTraceback(Exception):
    """Where a helper's exception was raised (its traceback does not pickle): the __cause__."""


# --- in the helper -------------------------------------------------------------------

READY = b"ready"  # a helper's first message: set up, taking calls


def _helper_main(conn: Connection, nice: int, databases: dict, modules: list[str], runner: str = "") -> None:
    """A helper's life: set up, then run one call at a time until the pipe closes."""
    if runner:  # the rows of answers it stores name its web process, which runs them (csbot/runner.py)
        runner_adopt(runner)
    # Ctrl-C reaches the whole process group, and so does a stop's SIGTERM from systemd (its
    # default KillMode) or `kill -- -PGID`; the web process stops its helpers itself. Killed
    # by that SIGTERM, they took with them the calls of the answers the web process was
    # letting finish (chat/streaming/lifecycle.py), and were started again for its last seconds.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if nice:
        os.nice(nice)
    set_up = threading.Event()
    threading.Thread(target=_exit_if_orphaned, args=(conn, set_up), name="csbot-helper-orphan", daemon=True).start()
    _set_up(databases, modules)
    set_up.set()
    try:
        conn.send_bytes(READY)
    except OSError:  # the web process went just as we finished setting up
        return
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):  # the web process is gone, or let us go
            return
        reply = _answer(request)
        try:
            conn.send_bytes(reply)
        except OSError:  # gone while we worked
            return


def _exit_if_orphaned(conn: Connection, set_up: threading.Event) -> None:
    """Exit at once when the web process goes while this helper is still setting up.

    Setting up takes a second or two, but at HELPER_NICE on a busy machine more than ten:
    a web process killed outright meanwhile left its helpers loading Django and the index
    for nobody, each then failing on READY with a BrokenPipeError. The web
    process writes no call before READY, so until then the pipe turns readable only when
    it closes.
    """
    wait([conn])
    if not set_up.is_set():
        os._exit(0)


def _set_up(databases: dict, modules: list[str]) -> None:
    """Django on the web process's databases, the modules of the functions it will run,
    then what every question needs (csbot/warm.py)."""
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
    # Otherwise a call's unpickling imports its function's module (chat/streaming/jobs.py
    # and all it imports: 10-20 ms) at the helper's first call of it, in the middle of a
    # burst of questions, after every start (docs/benchmarks-history.md, "The eighth round").
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # the call imports it again, and fails there, to its caller
            log.exception("a helper could not import %s", name)
    from csbot.warm import warm_and_freeze

    warm_and_freeze()


def _answer(request: bytes) -> bytes:
    """One call, with the connection hygiene of csbot/db.py's threads; its result or error, pickled."""
    from django.db import close_old_connections

    try:
        function, args, kwargs = pickle.loads(request)
        close_old_connections()
        try:
            result = ("ok", function(*args, **kwargs))
        finally:
            close_old_connections()
        return pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    except BaseException as exc:  # everything goes back to the caller, as with a thread
        where = traceback.format_exc()
        try:
            return pickle.dumps(("error", exc, where), pickle.HIGHEST_PROTOCOL)
        except Exception:  # an exception that doesn't pickle: its text does
            return pickle.dumps(("error", RuntimeError(repr(exc)), where), pickle.HIGHEST_PROTOCOL)


# --- in the web process --------------------------------------------------------------

_modules: set[str] = set()  # of the functions made with helper_pool(): helpers import them at start
_priority: dict[Callable, int] = {}  # helper_pool(..., priority=N): waiting calls run highest first
PRIORITIES = 3  # 0: page loads, checkpoints; 1: a socket's connect and resume; 2: a question's calls, finishes


class _Helper:
    def __init__(self, nice: int, databases: dict) -> None:
        context = multiprocessing.get_context("spawn")  # not fork: this process has a loop, threads, sockets
        self.conn, theirs = context.Pipe()
        # daemon: multiprocessing's exit handler ends it rather than waiting for it.
        self.process = context.Process(
            target=_helper_main,
            args=(theirs, nice, databases, sorted(_modules), runner_name()),
            name="csbot-helper",
            daemon=True,
        )
        self.process.start()
        theirs.close()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = False  # it has said READY: set up (Django, the index), reading calls
        # The calls written to its pipe, in order: the one it is running, then those it holds.
        self.calls: deque[asyncio.Future] = deque()

    def attach(self, loop: asyncio.AbstractEventLoop, on_readable: Callable[[_Helper], None]) -> None:
        """Have `loop` read this helper's pipe (the tests run many loops, one after another)."""
        if self.loop is loop:
            return
        self.detach()
        loop.add_reader(self.conn.fileno(), on_readable, self)
        # uvloop's add_reader (libuv's poll) makes the descriptor non-blocking, and then
        # recv_bytes() of a reply the helper is still writing (a long chat's history: more
        # than the socket holds at once) failed with BlockingIOError, as if the helper had
        # died. Blocking, a read that starts waits for the rest of the reply; the loop only
        # starts one when the first bytes are there, and the helper writes it all at once.
        os.set_blocking(self.conn.fileno(), True)
        self.loop = loop

    def detach(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.conn.fileno())
        self.loop = None

    def stop(self) -> None:
        self.detach()
        self.conn.close()  # the helper reads end-of-file and exits
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class _Pool:
    def __init__(self, size: int) -> None:
        self.helpers = [_Helper(settings.HELPER_NICE, settings.DATABASES) for _ in range(size)]
        # One queue per priority, the highest last.
        self.waiting: list[deque[tuple[bytes, asyncio.Future]]] = [deque() for _ in range(PRIORITIES)]

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Have `loop` read every helper's pipe: READY, then the replies."""
        for helper in self.helpers:
            helper.attach(loop, self._on_readable)

    async def call(self, function: Callable[..., R], args: tuple, kwargs: dict) -> R:
        loop = asyncio.get_running_loop()
        self.attach(loop)
        if not any(helper.ready for helper in self.helpers):
            # A fresh process's helpers take a second or two (more on a busy machine) to set
            # up: the first players after a start or a deploy don't wait for them, nor does a
            # socket's connect outlast daphne's 5 s for it. Threads meanwhile, as with
            # HELPER_PROCESSES=0.
            return await in_worker(function, *args, **kwargs)
        request = pickle.dumps((function, args, kwargs), pickle.HIGHEST_PROTOCOL)
        future = loop.create_future()
        self.waiting[_priority.get(function, 0)].append((request, future))
        # An idle helper takes it before a busy one holds it.
        for helper in sorted(self.helpers, key=lambda helper: len(helper.calls)):
            if helper.ready:
                self._next(helper)
        # Cancelling the caller doesn't stop a call that has started, as with a thread.
        return await future

    def _send(self, helper: _Helper, request: bytes, future: asyncio.Future) -> bool:
        helper.calls.append(future)
        try:
            helper.conn.send_bytes(request)
        except OSError:  # it died
            self._lost(helper)
            return False
        return True

    def _on_readable(self, helper: _Helper) -> None:
        try:
            message = helper.conn.recv_bytes()
        except (EOFError, OSError):
            self._lost(helper)
            return
        if not helper.ready:  # its first message: READY
            helper.ready = True
            self._next(helper)
            return
        reply = pickle.loads(message)
        future = helper.calls.popleft()
        if not future.done():  # done: its caller was cancelled
            if reply[0] == "ok":
                future.set_result(reply[1])
            else:
                error, where = reply[1], reply[2]
                error.__cause__ = HelperTraceback(where)
                future.set_exception(error)
        self._next(helper)

    def _next(self, helper: _Helper) -> None:
        """Give an idle helper the first waiting call, highest priority first; then, while
        questions queue anyway, the questions it may hold behind it."""
        if not helper.calls and not self._send_first(helper, reversed(self.waiting)):
            return
        # Only a question is held behind a running call: a page load or a connect held there
        # could not be overtaken by a question that comes after it. And only while at least
        # as many wait as there are helpers: else another helper may be free first, and a
        # held question would wait for the running call however long it takes (a tool's
        # slow HTTP call).
        questions = self.waiting[-1]
        while len(helper.calls) <= settings.HELPER_QUESTIONS_AHEAD and len(questions) >= len(self.helpers):
            if not self._send_first(helper, [questions]):
                return

    def _send_first(self, helper: _Helper, queues) -> bool:
        """Send the helper the first call of the first queue that has one (skipping those
        whose caller was cancelled); False when there was none, or the helper died."""
        for queue in queues:
            while queue:
                request, future = queue.popleft()
                if not future.done():
                    return self._send(helper, request, future)
        return False

    def _lost(self, helper: _Helper) -> None:
        log.error("helper process %s exited (code %s); starting another", helper.process.pid, helper.process.exitcode)
        calls, helper.calls = helper.calls, deque()
        helper.detach()
        helper.conn.close()  # no join here, on the event loop: starting the replacement reaps it
        replacement = _Helper(settings.HELPER_NICE, settings.DATABASES)
        self.helpers[self.helpers.index(helper)] = replacement
        # Waiting calls go to the other helpers, or to this one once it has said READY.
        replacement.attach(asyncio.get_running_loop(), self._on_readable)
        # The calls it held may not have started; which did, nobody can tell: all fail, as
        # the one it was running does.
        for future in calls:
            if not future.done():
                future.set_exception(HelperDied(f"helper process {helper.process.pid} exited during the call"))

    def pids(self) -> list[int]:
        return sorted(helper.process.pid for helper in self.helpers)

    def stop(self) -> None:
        for helper in self.helpers:
            helper.stop()
        for _, future in (call for queue in self.waiting for call in queue):
            if not future.done():
                future.cancel()


_pool: _Pool | None = None
_lock = threading.Lock()  # start() runs in the warm-up thread, calls on the event loop


def _get() -> _Pool:
    global _pool
    if _pool is None:
        with _lock:
            if _pool is None:
                _pool = _Pool(settings.HELPER_PROCESSES)
                # Before multiprocessing's own exit handler (atexit runs the last registered
                # first), which would SIGTERM them, which they ignore, and wait for them forever.
                atexit.register(shutdown)
    return _pool


def start() -> list[int]:
    """Start the helpers now rather than at the first message; returns their pids.

    Each then sets itself up (Django, the index: about a second) before it reads
    its first call. Nothing to do with HELPER_PROCESSES=0.
    """
    if settings.HELPER_PROCESSES <= 0:
        return []
    return _get().pids()


async def ready(timeout: float = 60) -> None:
    """Until a helper has set up and takes calls (tests: until then, calls run in threads)."""
    if settings.HELPER_PROCESSES <= 0:
        return
    async with asyncio.timeout(timeout):
        # count_ready() attaches again each time: a helper that died meanwhile has a replacement.
        while (await count_ready())[0] == 0:
            await asyncio.sleep(0.02)


async def count_ready() -> tuple[int, int]:
    """(helpers set up and taking calls, helpers): (0, 0) with HELPER_PROCESSES=0.

    Starts the helpers if nothing has yet (WARM_UP_ON_START=false), as a first call would.
    """
    if settings.HELPER_PROCESSES <= 0:
        return 0, 0
    pool = _get()
    pool.attach(asyncio.get_running_loop())  # their READY is read on the loop
    return sum(helper.ready for helper in pool.helpers), len(pool.helpers)


def shutdown() -> None:
    """Stop the helpers: their pipes close and they exit (tests; and at the web process's exit)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.stop()


async def in_helper(function: Callable[..., R], *args, **kwargs) -> R:
    """`function(*args, **kwargs)` in a helper process (in a thread with HELPER_PROCESSES=0).

    Its exceptions are raised here, with the helper's traceback as __cause__; a
    helper that dies during the call raises HelperDied.
    """
    if settings.HELPER_PROCESSES <= 0:
        return await in_worker(function, *args, **kwargs)
    _check_importable(function)
    return await _get().call(function, args, kwargs)


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


def helper_pool(fn: Callable[P, R], *, priority: int = 0) -> Callable[P, asyncio.Future[R]]:  # noqa: F821
    """`fn` as a coroutine function that runs it in a helper process (in_helper).

    Not a decorator: `fn` must stay importable by its own name, e.g.
    `_receive = helper_pool(services.player_message_receive, priority=2)`.
    Helpers started after this import `fn`'s module before their first call.
    `priority` (0 to PRIORITIES - 1): when every helper is busy, this call
    goes before the waiting calls of a lower priority (see above).
    """
    if not 0 <= priority < PRIORITIES:
        raise ValueError(f"priority {priority}: 0 to {PRIORITIES - 1}")
    _modules.add(fn.__module__)
    _priority[fn] = priority

    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        return await in_helper(fn, *args, **kwargs)

    run.__name__ = run.__qualname__ = f"helper_pool({fn.__qualname__})"
    run.__doc__ = fn.__doc__
    return run
