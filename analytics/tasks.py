"""Celery tasks: thin. Each loads what it needs by id and calls a service.

acks_late is on, so a task may run twice after a crash: every service called
here recomputes or conditionally updates, and a second run changes nothing.
The beat schedule is CELERY_BEAT_SCHEDULE in csbot/settings.py.
"""

from __future__ import annotations

import logging
import socket
import threading

from celery import shared_task
from celery.signals import beat_init
from django.db import close_old_connections, transaction

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
    """Call when retrieval found nothing for a question; the grouping runs in a worker."""
    transaction.on_commit(lambda: knowledge_gap.delay(question, conversation_id, language), robust=True)


@shared_task(ignore_result=True)
def conversation_closed(conversation_id: int) -> None:
    stats.stats_compute(conversation_id=conversation_id)


@shared_task(ignore_result=True)
def knowledge_gap(question: str, conversation_id: int | None = None, language: str = "") -> None:
    gaps.knowledge_gap_record(question=question, conversation_id=conversation_id, language=language)


@shared_task(ignore_result=True)
def aggregate_recent() -> int:
    """Stats for closes nobody reported, then the hours they and others made dirty."""
    stats.stats_sweep_missed()
    return aggregation.aggregate_dirty()


@shared_task(ignore_result=True)
def finalize_resolution() -> dict[str, int]:
    return resolution.resolution_update()


@shared_task(ignore_result=True)
def detect_anomalies() -> None:
    anomalies.anomalies_detect()


@shared_task(bind=True, ignore_result=True)
def worker_heartbeat(self) -> None:
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
