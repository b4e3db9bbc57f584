"""Log what the event loop was running when it fell behind (`LOOP_WATCHDOG_MS`, off by default).

Every stream in a web process shares one event loop, so anything that holds it
for a few milliseconds delays every player's next words. Such a stall leaves no
trace in a profile's totals (a 12 ms import once a minute is nothing there) but
is the p99 players feel. A thread asks the loop to run a no-op; when the loop
has not run it within the threshold, the thread takes the loop thread's stack
right then, while it is still stuck, and logs it with how late the no-op ran.

On Linux it also says how the loop thread spent the stall, from the kernel's
schedstat: running (Python work on the loop), waiting for a CPU (the machine
is busy), or neither, that is blocked: on the GIL, which another thread of the
process held, or in a system call. And it says how long the garbage collector
ran meanwhile (in any thread: it holds the GIL), which a stack cannot show.

It costs one wake-up of the loop per check (every `LOOP_WATCHDOG_MS`/2, at
least 2 ms apart): meant for finding a stall, under load or in production,
not to be left on for good.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
import time

log = logging.getLogger(__name__)


def start(loop: asyncio.AbstractEventLoop, threshold_ms: float) -> threading.Thread:
    """Watch `loop`, which must be the current thread's running (or about to run) loop."""
    loop_thread = threading.get_ident()
    schedstat = f"/proc/self/task/{threading.get_native_id()}/schedstat"
    threshold = threshold_ms / 1000
    pause = max(0.002, threshold / 2)
    collector = _CollectorClock()
    gc.callbacks.append(collector)

    def watch() -> None:
        try:
            while not loop.is_closed():
                check = _Check(threshold, schedstat, collector)
                try:
                    loop.call_soon_threadsafe(check.on_loop)
                except RuntimeError:  # the loop closed meanwhile
                    return
                if not check.ran.wait(threshold):
                    stack = _stack_of(loop_thread)
                    check.ran.wait(10)
                    if check.seen:
                        behind = check.seen_at - check.asked
                        log.warning(
                            "event loop %.1f ms behind (LOOP_WATCHDOG_MS=%g)%s%s; it was running:\n%s",
                            behind * 1000,
                            threshold_ms,
                            _how_spent(check.sched_before, check.sched_after, behind),
                            check.collected,
                            stack,
                        )
                time.sleep(pause)
        finally:
            gc.callbacks.remove(collector)

    thread = threading.Thread(target=watch, name="csbot-loop-watchdog", daemon=True)
    thread.start()
    log.info("watching the event loop: stalls over %g ms are logged with its stack", threshold_ms)
    return thread


class _Check:
    """One question to the loop: how late does it run a no-op?"""

    def __init__(self, threshold: float, schedstat: str, collector: _CollectorClock) -> None:
        self.threshold, self.schedstat, self.collector = threshold, schedstat, collector
        self.ran = threading.Event()
        self.seen = False
        self.asked = time.monotonic()
        self.sched_before, self.gc_before = _sched(schedstat), collector.spent()

    def on_loop(self) -> None:
        # Timed here, on the loop: the watchdog thread itself may wait for the GIL (up
        # to the 5 ms switch interval) or for a CPU before it looks.
        self.seen_at = time.monotonic()
        if self.seen_at - self.asked > self.threshold:
            self.sched_after, self.collected = _sched(self.schedstat), self.collector.since(self.gc_before)
            self.seen = True
        self.ran.set()


class _CollectorClock:
    """gc.callbacks hook: the time each generation's passes took, added up."""

    def __init__(self) -> None:
        self._ns = [0, 0, 0]
        self._passes = [0, 0, 0]
        self._started = 0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        elif self._started:
            self._ns[info["generation"]] += time.perf_counter_ns() - self._started
            self._passes[info["generation"]] += 1

    def spent(self) -> tuple[list[int], list[int]]:
        return list(self._ns), list(self._passes)

    def since(self, before: tuple[list[int], list[int]]) -> str:
        ns, passes = self.spent()
        parts = [
            f"gen {g} x{passes[g] - before[1][g]} {(ns[g] - before[0][g]) / 1e6:.1f} ms"
            for g in range(3)
            if passes[g] > before[1][g]
        ]
        return f"; the garbage collector ran: {', '.join(parts)}" if parts else ""


def _stack_of(thread_id: int) -> str:
    """The thread's stack, innermost call last, without source lines.

    Reading source lines (traceback's default) opens files while this thread
    holds the GIL, which would stall the loop it is looking at.
    """
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return "(the loop thread is gone)\n"
    calls = []
    while frame is not None:
        calls.append(f'  File "{frame.f_code.co_filename}", line {frame.f_lineno}, in {frame.f_code.co_name}\n')
        frame = frame.f_back
    return "".join(reversed(calls))


def _sched(path: str) -> tuple[int, int] | None:
    """(ns on a CPU, ns waiting for one) of a thread, or None where the kernel does not say."""
    try:
        with open(path) as f:
            ran, waited, _ = f.read().split()
        return int(ran), int(waited)
    except (OSError, ValueError):
        return None


def _how_spent(before: tuple[int, int] | None, after: tuple[int, int] | None, behind: float) -> str:
    if before is None or after is None:
        return ""
    ran, waited = (after[0] - before[0]) / 1e6, (after[1] - before[1]) / 1e6
    blocked = max(0.0, behind * 1000 - ran - waited)
    return f": ran {ran:.1f} ms, waited for a CPU {waited:.1f} ms, blocked (GIL, I/O) {blocked:.1f} ms"
