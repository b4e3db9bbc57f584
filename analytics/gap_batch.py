"""Knowledge gaps from the event loop, sent to analytics in batches.

The answer job reports each question the knowledge base could not answer with
collect(): the gap joins this event loop's batch and that is all (no I/O, no
hop to a worker thread). One task per loop sends the batch as ONE Celery task,
analytics.tasks.knowledge_gaps(items), KNOWLEDGE_GAP_BATCH_SECONDS after the
batch's first gap, or at once when KNOWLEDGE_GAP_BATCH_MAX are waiting. With a
broker the enqueue runs in a worker thread: `.delay` is blocking I/O (a Redis
round trip). On the embedded default (Celery eager) `.delay` runs the task
itself, the grouping and its writes: that runs in a helper process
(csbot/helper_pool.py), behind every player's call, because in a thread here
it takes the GIL from the loop relaying every answer's chunks. At ERNIE pace,
1,000 chats, that moved the embedded default's first-token p95 from 68 to 33
ms (docs/benchmarks-history.md, "The sixteenth round").

What can be lost, acceptable for a statistic: the gaps still waiting in a
process that dies or stops (at most KNOWLEDGE_GAP_BATCH_SECONDS' worth; nothing
flushes on shutdown), a batch whose enqueue fails (logged), and gaps past
PENDING_BATCHES full batches waiting behind a stuck broker (counted in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from django.conf import settings

from analytics import tasks
from chat.streaming.loops import per_loop
from csbot.db import in_worker
from csbot.helper_pool import helper_pool

log = logging.getLogger(__name__)

# Batches allowed to wait while an enqueue is slow; gaps beyond them are dropped.
PENDING_BATCHES = 10


def _batch_max() -> int:
    return max(1, settings.KNOWLEDGE_GAP_BATCH_MAX)


class GapBatcher:
    """The knowledge gaps this process has yet to send, on this event loop.

    The first gap after a quiet spell starts a task that waits, sends what
    was collected, and goes on while gaps keep coming; it ends when none are
    left, and dies with its loop (taking unsent gaps with it).
    """

    def __init__(self) -> None:
        self.items: list[list] = []
        self.full = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.dropped = 0

    def add(self, item: list) -> None:
        limit = _batch_max()
        if len(self.items) >= limit * PENDING_BATCHES:
            self.dropped += 1
            return
        self.items.append(item)
        if len(self.items) >= limit:
            self.full.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run(), name="knowledge-gaps")

    async def _run(self) -> None:
        while self.items:
            self.full.clear()
            if len(self.items) < _batch_max():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.full.wait(), max(0.0, settings.KNOWLEDGE_GAP_BATCH_SECONDS))
            await self._send_one_batch()

    async def flush(self) -> None:
        """Send everything collected so far, now."""
        while self.items:
            await self._send_one_batch()

    async def _send_one_batch(self) -> None:
        limit = _batch_max()
        batch = self.items[:limit]
        del self.items[:limit]
        if self.dropped:
            log.warning("%d knowledge gaps were dropped: too many waited to be sent", self.dropped)
            self.dropped = 0
        if not batch:
            return
        try:
            if settings.CELERY_TASK_ALWAYS_EAGER:
                await _enqueue_in_helper(batch)
            else:
                await in_worker(_enqueue, batch)
        except Exception:  # a statistic: log it and keep the loop going
            log.exception("could not send %d knowledge gaps to analytics", len(batch))


def _enqueue(batch: list[list]) -> None:
    # The task is looked up here, in the worker thread, not on the loop: the first lookup
    # in a process finalizes the Celery app (imports, its built-in tasks), which held the
    # event loop for 10-15 ms the first time a process sent gaps (docs/benchmarks-history.md,
    # "The seventh round"). csbot/warm.py finalizes it at start-up too.
    tasks.knowledge_gaps.delay(batch)


# Priority 0: a batch waits behind the players' calls, as answers' checkpoints do.
_enqueue_in_helper = helper_pool(_enqueue, priority=0)


batcher = per_loop(GapBatcher)  # this event loop's batcher


def collect(question: str, conversation_id: int | None = None, language: str = "") -> None:
    """Report a gap from the event loop; it is sent with others shortly.

    Called from a thread without a running loop, it takes the synchronous path
    (on_knowledge_gap: one task after the commit).
    """
    try:
        current = batcher()
    except RuntimeError:  # no running event loop in this thread
        tasks.on_knowledge_gap(question, conversation_id, language)
        return
    current.add(tasks.gap_item(question, conversation_id, language))
