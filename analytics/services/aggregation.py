"""Hourly and daily aggregates of ConversationStats (docs/metrics.md, "Aggregates").

A conversation counts in the hour (UTC) and the day (TIME_ZONE) in which it
closed. Writing a stat marks its hour dirty; `aggregate_dirty` recomputes those
hours from their stats and then their days from the hour rows. Each row is
recomputed whole and upserted, never incremented, so running twice, or two
workers at once, gives the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analytics.models import Aggregate, ConversationStats, DirtyHour
from analytics.services import histogram

Period = Aggregate.Period
Dim = Aggregate.Dimension
Resolution = ConversationStats.Resolution
HOUR = timedelta(hours=1)

_KEY_FIELDS = {"id", "period", "bucket", "dimension", "key"}
METRICS = [f.name for f in Aggregate._meta.concrete_fields if f.name not in _KEY_FIELDS]
_LISTS = {"ttft_hist", "csat_hist"}
_OUTCOME_FIELD = {
    Resolution.BOT: "bot_resolved",
    Resolution.RETURNED: "returned",
    Resolution.PENDING: "pending",
    Resolution.HANDED_OFF: "handed_off",
}
# Below this a conversation's last sentiment counts as negative ([-1, 1] scale).
NEGATIVE_SENTIMENT = -0.3
_STATS_FIELDS = [
    "closed_at", "resolution", "turns", "duration_s", "bot_answers", "bot_failures", "ttft_ms_values",
    "first_response_s", "handle_time_s", "queue_wait_s", "prompt_tokens", "completion_tokens", "csat_score",
    "sentiment_first", "sentiment_last", "intent", "server", "agent_id", "handed_off", "handoff_reason",
]  # fmt: skip

Totals = dict[str, Any]
# The agent key of the chats a human was asked for that nobody took (_dimensions).
UNTAKEN = ""


def empty_totals() -> Totals:
    totals: Totals = {name: 0 for name in METRICS}
    totals["ttft_hist"] = histogram.empty()
    totals["csat_hist"] = [0] * 5
    return totals


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(moment: datetime) -> datetime:
    """Midnight, in TIME_ZONE, of the local day the moment falls in."""
    local = timezone.localtime(moment)
    return timezone.make_aware(datetime.combine(local.date(), time.min))


def day_end(start: datetime) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localtime(start).date() + timedelta(days=1), time.min))


# --- Adding up ------------------------------------------------------------------


def _add_stats(totals: Totals, s: ConversationStats) -> None:
    totals["conversations"] += 1
    totals[_OUTCOME_FIELD[s.resolution]] += 1
    totals["turns"] += s.turns
    totals["duration_s"] += s.duration_s
    totals["bot_answers"] += s.bot_answers
    totals["bot_failures"] += s.bot_failures
    values = s.ttft_ms_values or []
    totals["ttft_count"] += len(values)
    totals["ttft_sum_ms"] += sum(values)
    histogram.add_values(totals["ttft_hist"], values)
    if s.first_response_s is not None:
        totals["first_response_count"] += 1
        totals["first_response_sum_s"] += s.first_response_s
    if s.handle_time_s is not None:
        totals["handle_count"] += 1
        totals["handle_sum_s"] += s.handle_time_s
    if s.queue_wait_s is not None:
        totals["queue_wait_count"] += 1
        totals["queue_wait_sum_s"] += s.queue_wait_s
    totals["prompt_tokens"] += s.prompt_tokens
    totals["completion_tokens"] += s.completion_tokens
    if s.csat_score:
        totals["csat_count"] += 1
        totals["csat_sum"] += s.csat_score
        totals["csat_hist"][s.csat_score - 1] += 1
    if s.sentiment_last is not None:
        first = s.sentiment_first if s.sentiment_first is not None else s.sentiment_last
        totals["sentiment_count"] += 1
        totals["sentiment_first_sum"] += first
        totals["sentiment_last_sum"] += s.sentiment_last
        totals["negative_count"] += s.sentiment_last < NEGATIVE_SENTIMENT
        totals["improved_count"] += s.sentiment_last > first
        totals["worsened_count"] += s.sentiment_last < first


def add_totals(into: Totals, other: Totals | Aggregate) -> Totals:
    for name in METRICS:
        value = other[name] if isinstance(other, dict) else getattr(other, name)
        if name == "ttft_hist" and isinstance(other, Aggregate):
            histogram.merge(into[name], histogram.dense(value))
        elif name in _LISTS:
            histogram.merge(into[name], value or [])
        else:
            into[name] += value
    return into


def _dimensions(s: ConversationStats) -> Iterator[tuple[str, str]]:
    """The rows a conversation counts in. Intent and server rows add up to the total.

    A chat a human was asked for that no agent took (the player gave up waiting, or it was
    closed from the queue) counts under the agent key "" (UNTAKEN): the agents page listed
    only the chats agents took, and the manager could not see the players nobody answered."""
    yield Dim.ALL, ""
    yield Dim.INTENT, s.intent
    yield Dim.SERVER, s.server
    if s.agent_id:
        yield Dim.AGENT, str(s.agent_id)
    elif s.handed_off:
        yield Dim.AGENT, UNTAKEN
    if s.handed_off:
        yield Dim.REASON, s.handoff_reason


def accumulate(stats: Iterable[ConversationStats]) -> dict[tuple[datetime, str, str], Totals]:
    """Totals per (hour, dimension, key). Chats without a player message are not support requests."""
    out: dict[tuple[datetime, str, str], Totals] = defaultdict(empty_totals)
    for s in stats:
        if s.resolution == Resolution.EMPTY:
            continue
        hour = floor_hour(s.closed_at)
        for dimension, key in _dimensions(s):
            _add_stats(out[(hour, dimension, key)], s)
    return out


# --- Writing --------------------------------------------------------------------


def hours_mark_dirty(moments: Iterable[datetime | None]) -> None:
    hours = {floor_hour(m) for m in moments if m is not None}
    if hours:
        now = timezone.now()
        DirtyHour.objects.bulk_create(
            [DirtyHour(hour=h, marked_at=now) for h in sorted(hours)],
            update_conflicts=True,
            unique_fields=["hour"],
            update_fields=["marked_at"],
        )


def _write(period: str, buckets: list[datetime], rows: dict[tuple[datetime, str, str], Totals]) -> None:
    """Make the rows of these buckets exactly `rows`: upsert them, delete what is gone."""
    objects = [
        Aggregate(
            period=period,
            bucket=bucket,
            dimension=dimension,
            key=key[:64],
            **{**totals, "ttft_hist": histogram.stored(totals["ttft_hist"])},
        )
        for (bucket, dimension, key), totals in rows.items()
    ]
    Aggregate.objects.bulk_create(
        objects,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["period", "dimension", "bucket", "key"],
        update_fields=METRICS,
    )
    present: dict[datetime, set[tuple[str, str]]] = defaultdict(set)
    for bucket, dimension, key in rows:
        present[bucket].add((dimension, key[:64]))
    for bucket in buckets:
        stale = Aggregate.objects.filter(period=period, bucket=bucket)
        keep = Q()
        for dimension, key in present.get(bucket, ()):
            keep |= Q(dimension=dimension, key=key)
        if present.get(bucket):
            stale = stale.exclude(keep)
        stale.delete()


def aggregate_hours(hours: Iterable[datetime]) -> set[datetime]:
    """Recompute these hours from their stats; returns the local days they fall in."""
    days: set[datetime] = set()
    for hour in sorted(set(hours)):
        stats = ConversationStats.objects.filter(closed_at__gte=hour, closed_at__lt=hour + HOUR).only(*_STATS_FIELDS)
        with transaction.atomic():
            _write(Period.HOUR, [hour], accumulate(stats))
        days.add(day_start(hour))
    return days


def rollup_days(days: Iterable[datetime]) -> None:
    """Recompute day rows as the sums of their hour rows."""
    for start in sorted(set(days)):
        rows: dict[tuple[datetime, str, str], Totals] = defaultdict(empty_totals)
        for row in Aggregate.objects.filter(period=Period.HOUR, bucket__gte=start, bucket__lt=day_end(start)):
            add_totals(rows[(start, row.dimension, row.key)], row)
        with transaction.atomic():
            _write(Period.DAY, [start], rows)


# The TIME_ZONE this process last found every day row keyed in (days_rezone).
_zone_checked: str | None = None


def days_rezone() -> int:
    """Re-key the day rows written under another TIME_ZONE; returns how many days were recomputed.

    A day row is keyed by its local midnight, so after TIME_ZONE changed every earlier day
    was keyed by a moment that is no midnight now: the pages, which look days up by their
    midnight, showed 0 for all of them. Their hours (UTC) still hold the numbers: the days
    they fall in now are recomputed from them and the old rows go. Looked at once per process
    and time zone (TIME_ZONE changes only with a restart); running twice changes nothing.
    """
    global _zone_checked
    zone = timezone.get_current_timezone_name()
    if _zone_checked == zone:
        return 0
    starts = Aggregate.objects.filter(period=Period.DAY, dimension=Dim.ALL, key="").values_list("bucket", flat=True)
    stale = [start for start in starts if day_start(start) != start]
    days: set[datetime] = set()
    for start in stale:
        hours = Aggregate.objects.filter(
            period=Period.HOUR, dimension=Dim.ALL, bucket__gte=start, bucket__lt=start + timedelta(hours=25)
        ).values_list("bucket", flat=True)
        days.update(day_start(hour) for hour in hours)
    with transaction.atomic():
        Aggregate.objects.filter(period=Period.DAY, bucket__in=stale).delete()
        rollup_days(days)
    _zone_checked = zone
    return len(days)


def aggregate_dirty(*, limit: int = 500) -> int:
    """Recompute the hours marked dirty (oldest first) and their days; returns how many hours.

    A mark made while an hour is being recomputed has a later marked_at and survives
    the delete, so that hour is done again on the next run.
    """
    claimed = list(DirtyHour.objects.order_by("hour")[:limit])
    if not claimed:
        return 0
    days = aggregate_hours(d.hour for d in claimed)
    rollup_days(days)
    for mark in claimed:
        DirtyHour.objects.filter(pk=mark.pk, marked_at__lte=mark.marked_at).delete()
    return len(claimed)


def aggregate_rebuild() -> int:
    """Recompute every aggregate from all stats in one pass (after bulk loads); returns rows written."""
    out = accumulate(ConversationStats.objects.only(*_STATS_FIELDS).order_by().iterator(chunk_size=5000))
    days: dict[tuple[datetime, str, str], Totals] = defaultdict(empty_totals)
    for (hour, dimension, key), totals in out.items():
        add_totals(days[(day_start(hour), dimension, key)], totals)
    with transaction.atomic():
        Aggregate.objects.all().delete()
        DirtyHour.objects.all().delete()
        _write(Period.HOUR, [], out)
        _write(Period.DAY, [], days)
    return len(out) + len(days)
