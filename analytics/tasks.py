"""Celery tasks: thin. Each loads what it needs by id and calls a service.

acks_late is on, so a task may run twice after a crash: every service called
here recomputes or conditionally updates, and a second run changes nothing.
knowledge_gaps skips a gap already recorded at the time it was asked; only the
old knowledge_gap task (kept for messages queued before a deploy) would record
a redelivered question twice.
The beat schedule is CELERY_BEAT_SCHEDULE in csbot/settings.py.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from datetime import datetime

from celery import shared_task
from celery.signals import beat_init
from django.db import close_old_connections, transaction
from django.utils import timezone

from analytics.models import KnowledgeGap
from analytics.services import aggregation, alerts, anomalies, gaps, resolution, stats

log = logging.getLogger(__name__)


def on_conversation_closed(conversation_id: int) -> None:
    """Call when a conversation closes, inside the closing transaction or after it.

    The stats are computed once the close is committed, so the task never reads
    a conversation that is still open or a close that was rolled back. Robust:
    when Celery runs eagerly, an analytics error is logged, never raised into the close.
    """
    transaction.on_commit(lambda: conversation_closed.delay(conversation_id), robust=True)


def on_knowledge_gap(question: str, conversation_id: int | None = None, language: str = "") -> None:
    """Call when retrieval found nothing for a question; the grouping runs in a worker.

    From the event loop, analytics.gap_batch.collect sends gaps in batches instead.
    """
    item = gap_item(question, conversation_id, language)
    transaction.on_commit(lambda: knowledge_gaps.delay([item]), robust=True)


def gap_item(question: str, conversation_id: int | None = None, language: str = "") -> list:
    """A gap as knowledge_gaps takes it: [question, conversation_id, language, asked at (ISO 8601)]."""
    return [question, conversation_id, language, timezone.now().isoformat()]


@shared_task(ignore_result=True)
def conversation_closed(conversation_id: int) -> None:
    stats.stats_compute(conversation_id=conversation_id)


@shared_task(ignore_result=True)
def knowledge_gaps(items: list[list]) -> None:
    """Record and group gaps, each [question, conversation_id, language, asked_at] (gap_item).

    A gap already recorded at its asked_at (this batch ran before) is skipped;
    without asked_at (an item of three) the gap is recorded at now, every time.
    A gap that fails is logged; the others are recorded all the same.
    """
    times = _asked_times(items)
    recorded = _recorded_gaps(times)
    # The groups read once for the whole batch, not once per gap (gaps.GapGroups).
    groups = gaps.GapGroups(min(times, default=timezone.now()) - gaps.ACTIVE_FOR)
    asked = []
    for item in items:
        conversation_id = None
        try:
            question, conversation_id, language, *rest = item
            at = datetime.fromisoformat(rest[0]) if rest and rest[0] else None
            if at is not None and (conversation_id, at) in recorded:
                continue
            if not isinstance(question, str):
                raise TypeError(f"a question is text, not {type(question).__name__}")
            asked.append(gaps.AskedGap(question, conversation_id, language, at or timezone.now()))
        except Exception:  # the player's words stay out of the log
            log.exception("could not record a knowledge gap of conversation %s", conversation_id)
    try:
        _, left_out = gaps.knowledge_gaps_record(asked, groups=groups)
    except Exception:
        log.warning("recording %d knowledge gaps together failed; one at a time instead", len(asked), exc_info=True)
        left_out = []
        for gap in asked:
            try:
                gaps.knowledge_gap_record(
                    question=gap.question,
                    conversation_id=gap.conversation_id,
                    language=gap.language,
                    at=gap.at,
                    groups=groups,
                )
            except Exception:
                log.exception("could not record a knowledge gap of conversation %s", gap.conversation_id)
    for gap in left_out:
        log.error("could not record a knowledge gap of conversation %s: it no longer exists", gap.conversation_id)


def _asked_times(items: list[list]) -> set[datetime]:
    times = set()
    for item in items:
        with contextlib.suppress(Exception):  # a bad item fails on its own below
            times.add(datetime.fromisoformat(item[3]))
    return times


def _recorded_gaps(times: set[datetime]) -> set[tuple[int | None, datetime]]:
    """(conversation_id, created_at) of the gaps already recorded at these times: one indexed query.

    Times are to the microsecond and a conversation has one answer at a time, so
    the two tell a gap apart.
    """
    if not times:
        return set()
    return set(KnowledgeGap.objects.filter(created_at__in=times).values_list("conversation_id", "created_at"))


@shared_task(ignore_result=True)
def knowledge_gap(question: str, conversation_id: int | None = None, language: str = "") -> None:
    """Superseded by knowledge_gaps; still registered for messages queued before it existed."""
    gaps.knowledge_gap_record(question=question, conversation_id=conversation_id, language=language)


@shared_task(ignore_result=True)
def aggregate_recent() -> int:
    """Stats for closes nobody reported, then the hours they and others made dirty (and the
    days of another TIME_ZONE, once)."""
    stats.stats_sweep_missed()
    aggregation.days_rezone()
    return aggregation.aggregate_dirty()


@shared_task(ignore_result=True)
def finalize_resolution() -> dict[str, int]:
    return resolution.resolution_update()


@shared_task(ignore_result=True)
def detect_anomalies() -> None:
    anomalies.anomalies_detect()


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:
    if self.request.is_eager:
        # Run by the web process itself (csbot/embedded_beat.py), which is no worker: its
        # row listed it on the anomalies page as one, "vm … just now", when none ran.
        return
    anomalies.heartbeat_record(hostname=self.request.hostname or socket.gethostname())


@shared_task(bind=True, ignore_result=True, max_retries=5)
def alert_notify(self, alert_id: int, event: str) -> None:
    """Tell staff sockets and the webhook that an alert was raised or cleared.

    Receivers may see a frame or a POST twice (a retry, or a redelivery): the
    alert id and event make it easy to drop the repeat.
    """
    try:
        alerts.alert_deliver(alert_id, event)
    except alerts.WebhookError as exc:
        # Run eagerly (no worker), a retry would block the caller: log and move on.
        if exc.permanent or self.request.is_eager:
            log.warning("alert %s webhook failed: %s", alert_id, exc)
            return
        raise self.retry(exc=exc, countdown=min(300, 10 * 2**self.request.retries)) from exc


# --- The worker watchdog in celery beat -----------------------------------------------
# Workers cannot report their own death, and detect_anomalies runs on a worker. Beat
# keeps running when every worker is gone, so it checks the heartbeat itself.

WATCHDOG_SECONDS = 60


@beat_init.connect
def _start_worker_watchdog(**_kwargs) -> None:
    threading.Thread(target=_watch_workers, name="csbot-worker-watchdog", daemon=True).start()
    log.info("worker watchdog started: checking the heartbeat every %s s", WATCHDOG_SECONDS)


def _watch_workers() -> None:
    stop = threading.Event()
    while not stop.wait(WATCHDOG_SECONDS):
        try:
            close_old_connections()
            anomalies.worker_check()
        except Exception:
            log.exception("worker watchdog failed")
