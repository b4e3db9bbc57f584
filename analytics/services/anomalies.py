"""Anomaly detection: the last few minutes against a baseline (docs/metrics.md, "Alerts").

The recent window is read from the raw rows (a few minutes, on indexed times);
the baseline from the hourly aggregates of the 24 whole hours before the hour
the window starts in, so detection stays cheap however much history there is
(the handoff surge counts escalation events on both sides: see its detector). Each detector returns Signals;
`anomalies_detect` turns them into raised or cleared alerts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from analytics.models import Aggregate, Alert, WorkerHeartbeat
from analytics.services import histogram
from analytics.services.aggregation import (
    NEGATIVE_SENTIMENT,
    Totals,
    add_totals,
    empty_totals,
    floor_hour,
)
from analytics.services.alerts import Signal, alert_sync
from chat.models import Conversation, ConversationEvent, Message

Kind = Alert.Kind


@dataclass(frozen=True)
class Rules:
    """When a signal is off. A reading is abnormal at or above its threshold, which is
    the larger of a fixed floor and a multiple of the baseline; too few samples is normal."""

    window: timedelta = timedelta(minutes=10)
    baseline: timedelta = timedelta(hours=24)
    error_min_answers: int = 10
    error_rate_floor: float = 0.10
    error_rate_factor: float = 3.0
    ttft_min_answers: int = 10
    ttft_p95_floor_ms: float = 3000.0
    ttft_p95_factor: float = 2.0
    handoff_floor: int = 5
    handoff_factor: float = 3.0
    sentiment_min_chats: int = 10
    sentiment_server_min_chats: int = 5
    sentiment_share_floor: float = 0.3
    sentiment_factor: float = 2.0
    queue_wait_floor_s: float = 300.0
    queue_wait_factor: float = 3.0
    # The beat schedule runs the heartbeat every 30 s: four missed beats is a stopped worker.
    heartbeat_stale_s: float = 120.0


RULES = Rules()


def _threshold(floor: float, factor: float, baseline: float | None) -> float:
    return max(floor, factor * baseline) if baseline is not None else floor


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


class Baseline:
    """Sums of the hourly aggregates of the baseline period, overall and per server.

    The period is the 24 whole hours before the hour in which the window starts: the hour
    holding the window (or part of it) is left out, or a surge would raise its own threshold.
    """

    def __init__(self, now: datetime, rules: Rules) -> None:
        end = floor_hour(now - rules.window)
        rows = Aggregate.objects.filter(
            period=Aggregate.Period.HOUR,
            dimension__in=[Aggregate.Dimension.ALL, Aggregate.Dimension.SERVER],
            bucket__gte=end - rules.baseline,
            bucket__lt=end,
        )
        self.overall: Totals = empty_totals()
        self.servers: dict[str, Totals] = defaultdict(empty_totals)
        for row in rows:
            add_totals(self.overall if row.dimension == Aggregate.Dimension.ALL else self.servers[row.key], row)
        self.hours = rules.baseline.total_seconds() / 3600


def detect_llm_errors(now: datetime, base: Baseline, rules: Rules = RULES) -> list[Signal]:
    statuses = list(
        Message.objects.filter(sender=Message.Sender.BOT, created_at__gte=now - rules.window, created_at__lte=now)
        .exclude(status=Message.Status.STREAMING)
        .values_list("status", flat=True)
    )
    answers, failed = len(statuses), statuses.count(Message.Status.FAILED)
    rate = _ratio(failed, answers)
    baseline = _ratio(base.overall["bot_failures"], base.overall["bot_answers"])
    threshold = _threshold(rules.error_rate_floor, rules.error_rate_factor, baseline)
    abnormal = answers >= rules.error_min_answers and rate is not None and rate >= threshold
    data = {"failed": failed, "answers": answers, "rate": rate, "baseline": baseline, "minutes": _minutes(rules)}
    return [Signal(Kind.LLM_ERRORS, "", abnormal, rate or 0.0, threshold, baseline, data)]


def detect_ttft_p95(now: datetime, base: Baseline, rules: Rules = RULES) -> list[Signal]:
    values = list(
        Message.objects.filter(
            sender=Message.Sender.BOT,
            created_at__gte=now - rules.window,
            created_at__lte=now,
            ttft_ms__isnull=False,
        ).values_list("ttft_ms", flat=True)
    )
    p95 = histogram.exact_percentile(values, 0.95)
    baseline = histogram.percentile(base.overall["ttft_hist"], 0.95)
    threshold = _threshold(rules.ttft_p95_floor_ms, rules.ttft_p95_factor, baseline)
    abnormal = len(values) >= rules.ttft_min_answers and p95 is not None and p95 >= threshold
    data = {"p95_ms": p95, "answers": len(values), "baseline_ms": baseline, "minutes": _minutes(rules)}
    return [Signal(Kind.TTFT_P95, "", abnormal, p95 or 0.0, threshold, baseline, data)]


def _escalations(**created_at) -> int:
    return ConversationEvent.objects.filter(kind=ConversationEvent.Kind.ESCALATED, **created_at).count()


def detect_handoff_surge(now: datetime, base: Baseline, rules: Rules = RULES) -> list[Signal]:
    """Escalations in the window against escalations per window over the 24 hours before it.

    Both sides count `escalated` events, read from the raw rows (an index on kind and time):
    the aggregates count handed-off chats by their close, which includes takeovers nobody
    asked for and leaves out chats still open, so they are not the same thing."""
    start = now - rules.window
    count = _escalations(created_at__gte=start, created_at__lte=now)
    usual = _escalations(created_at__gte=start - rules.baseline, created_at__lt=start)
    expected = usual * rules.window.total_seconds() / rules.baseline.total_seconds()
    threshold = _threshold(rules.handoff_floor, rules.handoff_factor, expected)
    data = {"count": count, "expected": expected, "minutes": _minutes(rules)}
    return [Signal(Kind.HANDOFF_SURGE, "", count >= threshold, count, threshold, expected, data)]


def detect_negative_sentiment(now: datetime, base: Baseline, rules: Rules = RULES) -> list[Signal]:
    """Overall, and per game server (facts["server"]) for every server with chats or an open alert."""
    rows = Conversation.objects.filter(
        updated_at__gte=now - rules.window, updated_at__lte=now, sentiment__isnull=False
    ).values_list("sentiment", "facts")
    chats: dict[str, list[float]] = defaultdict(list)
    for sentiment, facts in rows:
        chats[""].append(sentiment)
        server = str((facts or {}).get("server") or "") if isinstance(facts, dict) else ""
        if server:
            chats[server].append(sentiment)
    open_keys = Alert.objects.filter(kind=Kind.NEGATIVE_SENTIMENT, state=Alert.State.ACTIVE).values_list(
        "key", flat=True
    )
    signals = []
    for key in sorted({"", *chats, *open_keys}):
        scores = chats.get(key, [])
        negative = sum(1 for s in scores if s < NEGATIVE_SENTIMENT)
        share = _ratio(negative, len(scores))
        totals = base.servers.get(key) if key else base.overall
        if not totals or not totals["sentiment_count"]:
            totals = base.overall  # a server with no history is judged against all servers
        baseline = _ratio(totals["negative_count"], totals["sentiment_count"])
        threshold = _threshold(rules.sentiment_share_floor, rules.sentiment_factor, baseline)
        enough = rules.sentiment_server_min_chats if key else rules.sentiment_min_chats
        abnormal = len(scores) >= enough and share is not None and share >= threshold
        data = {
            "negative": negative,
            "chats": len(scores),
            "share": share,
            "baseline": baseline,
            "minutes": _minutes(rules),
        }
        signals.append(Signal(Kind.NEGATIVE_SENTIMENT, key, abnormal, share or 0.0, threshold, baseline, data))
    return signals


def detect_queue_wait(now: datetime, base: Baseline, rules: Rules = RULES) -> list[Signal]:
    escalated = ConversationEvent.objects.filter(
        conversation=OuterRef("pk"), kind=ConversationEvent.Kind.ESCALATED
    ).order_by("-created_at")
    waiting = list(
        Conversation.objects.filter(state=Conversation.State.WAITING)
        .annotate(escalated_at=Subquery(escalated.values("created_at")[:1]))
        .values_list("waiting_since", "escalated_at", "updated_at")
    )
    # waiting_since is set by the takeover code; the escalation event covers rows without it.
    waits = [(now - (since or escalated_at or updated)).total_seconds() for since, escalated_at, updated in waiting]
    oldest = max(waits, default=0.0)
    baseline = _ratio(base.overall["first_response_sum_s"], base.overall["first_response_count"])
    threshold = _threshold(rules.queue_wait_floor_s, rules.queue_wait_factor, baseline)
    data = {"waiting": len(waits), "oldest_s": oldest, "baseline_s": baseline}
    return [Signal(Kind.QUEUE_WAIT, "", bool(waits) and oldest >= threshold, oldest, threshold, baseline, data)]


def detect_worker_stopped(now: datetime, rules: Rules = RULES) -> list[Signal]:
    """Stale heartbeat. Silent when Celery runs eagerly (no worker to watch) or no worker
    has ever beaten (nothing to compare with)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return [Signal(Kind.WORKER_STOPPED, "", False, 0.0, rules.heartbeat_stale_s)]
    latest = WorkerHeartbeat.objects.order_by("-beat_at").first()
    if latest is None:
        return [Signal(Kind.WORKER_STOPPED, "", False, 0.0, rules.heartbeat_stale_s)]
    age = (now - latest.beat_at).total_seconds()
    data = {"age_s": age, "host": latest.hostname, "last_beat": latest.beat_at.isoformat()}
    return [Signal(Kind.WORKER_STOPPED, "", age >= rules.heartbeat_stale_s, age, rules.heartbeat_stale_s, None, data)]


def _minutes(rules: Rules) -> int:
    return int(rules.window.total_seconds() // 60)


def anomalies_detect(*, now: datetime | None = None, rules: Rules = RULES) -> list[tuple[Signal, str | None]]:
    """Read every signal and raise or clear its alert; returns each signal with what changed."""
    now = now or timezone.now()
    base = Baseline(now, rules)
    signals = [
        *detect_llm_errors(now, base, rules),
        *detect_ttft_p95(now, base, rules),
        *detect_handoff_surge(now, base, rules),
        *detect_negative_sentiment(now, base, rules),
        *detect_queue_wait(now, base, rules),
        *detect_worker_stopped(now, rules),
    ]
    return [(signal, alert_sync(signal, now=now)) for signal in signals]


def worker_check(*, now: datetime | None = None, rules: Rules = RULES) -> str | None:
    """Only the worker signal: run where no worker is needed (celery beat, the anomalies page)."""
    now = now or timezone.now()
    (signal,) = detect_worker_stopped(now, rules)
    return alert_sync(signal, now=now, inline=True)


def heartbeat_record(*, hostname: str, now: datetime | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(hostname=hostname[:200], defaults={"beat_at": now or timezone.now()})


def heartbeats() -> list[WorkerHeartbeat]:
    return list(WorkerHeartbeat.objects.order_by("-beat_at"))
