"""Wall time per step of csbot's message path, for finding where added latency goes.

Serve csbot through this module instead of csbot.asgi, then dump the timings
with SIGUSR1 (p50/p95/max per step, in ms, to $STEP_TIMING_OUT, default
/tmp/step_timing.json; the counters restart after each dump):

    PYTHONPATH=bench:. .venv/bin/python -m csbot.serve -b 127.0.0.1 -p 8000 step_timing:application
    kill -USR1 <daphne pid>

It wraps private names of chat.consumers and chat.streaming.jobs (as of
commit 81e3e03); when they change, adjust the lists below. A measuring aid,
not part of the product.
"""

# csbot.asgi must be imported before chat (it sets Django up): keep this order.
from __future__ import annotations  # noqa: I001

import collections
import functools
import json
import os
import signal
import time

from csbot.asgi import application  # noqa: F401  (sets Django up first)

import chat.consumers as consumers  # noqa: E402
import chat.streaming.jobs as jobs  # noqa: E402

STATS: dict[str, list[float]] = collections.defaultdict(list)


def _record(name: str, started: float) -> None:
    STATS[name].append((time.perf_counter() - started) * 1000)


def _wrap_async(module, attr: str, name: str) -> None:
    original = getattr(module, attr, None)
    if original is None:
        return

    @functools.wraps(original)
    async def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _record(name, started)

    setattr(module, attr, timed)


def _wrap_thread_part(sync_to_async_obj, name: str) -> None:
    """The time spent inside the thread (the rest of the call is queueing)."""
    original = getattr(sync_to_async_obj, "func", None)
    if original is None:
        return

    @functools.wraps(original)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _record(name, started)

    sync_to_async_obj.func = timed


_wrap_thread_part(consumers._receive, "receive.in_thread")
_wrap_async(consumers, "_receive", "receive.total")
_wrap_async(consumers, "_load", "connect.load")
for _attr in ("_start", "_state", "_checkpoint", "_finish", "publish_delta"):
    _wrap_async(jobs, _attr, f"jobs.{_attr}")

_original_emit = jobs.AnswerJob._emit


async def _emit(self, buffer, delta):
    started = time.perf_counter()
    try:
        return await _original_emit(self, buffer, delta)
    finally:
        _record("job._emit", started)


jobs.AnswerJob._emit = _emit


def _dump(*_args) -> None:
    out = {}
    for name, values in STATS.items():
        if values:
            ordered = sorted(values)
            out[name] = {
                "n": len(ordered),
                "p50": ordered[len(ordered) // 2],
                "p95": ordered[int(len(ordered) * 0.95)],
                "max": ordered[-1],
            }
    with open(os.environ.get("STEP_TIMING_OUT", "/tmp/step_timing.json"), "w") as f:
        json.dump(out, f, indent=1)
    STATS.clear()


signal.signal(signal.SIGUSR1, _dump)
