"""daphne on uvloop's event loop: `python -m csbot.serve -b 0.0.0.0 -p 8000 csbot.asgi:application`.

The arguments are daphne's own (`--help`). Why uvloop: a daphne process spends
much of its CPU in the event loop itself (asyncio's `_run_once`, selectors, the
wake-ups of worker-thread results); on uvloop the same load ran with about a
seventh less CPU per chunk and a fraction of the queueing (docs/benchmarks-history.md,
"The fourth round"). daphne makes its loop when `daphne.server` is imported
(twisted's asyncio reactor runs on it), so the policy must be set before that
import, which daphne's own `daphne` script can't do. Its sockets write eagerly
(csbot/eager_writes.py; `EAGER_WRITES=0` turns that off, for comparison).
`LOOP_WATCHDOG_MS` logs what the loop was running whenever it falls that far
behind (csbot/loop_watchdog.py). autobahn's debug lines on every WebSocket
connect and every frame are formatted only when debug lines are logged
(csbot/autobahn_debug.py).
"""

from __future__ import annotations

import asyncio
import os


def main() -> None:
    import uvloop

    from csbot.env import env_bool, env_float

    _grow_fd_table()
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if env_bool("EAGER_WRITES", True):
        from csbot import eager_writes

        eager_writes.install()
    from csbot import autobahn_debug

    autobahn_debug.install()
    watchdog_ms = env_float("LOOP_WATCHDOG_MS", 0.0)
    if watchdog_ms > 0:
        _watch_the_loop(watchdog_ms)
    from daphne.cli import CommandLineInterface

    CommandLineInterface.entrypoint()


# Sockets a web process may hold before its descriptor table grows again: two per chat
# (the player's, the answer's upstream) and some.
FD_TABLE_SLOTS = 16384


def _grow_fd_table(slots: int = FD_TABLE_SLOTS) -> None:
    """Size the kernel's descriptor table for the sockets to come, now, while this process
    has one thread.

    Linux grows a process's table of file descriptors by doubling it when a new one
    doesn't fit, and a process with more than one thread (ours: the database pool's,
    libuv's) then waits for an RCU grace period in that `socket()` or `accept()`: the
    event loop, and every stream in the process, stopped 8-10 ms when a burst of
    questions took the process past 256 descriptors, and again at 512, 1,024...
    (docs/benchmarks-history.md, "The twelfth round"). The table never shrinks, so growing it
    once here (a `dup2` to the highest slot wanted, closed at once) costs that grace
    period never, and 8 bytes a slot.
    """
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = min(soft, slots) - 1
    if highest < 64:
        return
    fd = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(fd, highest, inheritable=False)
        os.close(highest)
    finally:
        os.close(fd)


def _watch_the_loop(threshold_ms: float) -> None:
    import daphne.server  # noqa: F401  installs twisted's asyncio reactor, on the loop made above
    from twisted.internet import reactor

    from csbot import loop_watchdog

    reactor.callWhenRunning(lambda: loop_watchdog.start(asyncio.get_event_loop(), threshold_ms))


if __name__ == "__main__":
    main()
