"""Reads for the analytics pages. They read aggregates (a few rows per day and
dimension), never the conversations themselves, so a page costs the same with a
thousand chats or a million. Knowledge gaps and alerts are read from their own
small tables; the chats behind a figure (chats_behind), a page of at most 200, from
the stats rows. Metric definitions: docs/metrics.md.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Min
from django.db.models.functions import TruncDate
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from analytics.models import Aggregate, Alert, ConversationStats, DirtyHour, GapCluster, KnowledgeGap
from analytics.services import histogram
from analytics.services.aggregation import (
    UNTAKEN,
    Totals,
    add_totals,
    day_end,
    day_start,
    empty_totals,
    floor_hour,
)
from analytics.services.resolution import RETURN_WINDOW

Period = Aggregate.Period
Dim = Aggregate.Dimension
DEFAULT_DAYS = 30
MAX_DAYS = 400
# Up to this many days a page plots hours, above it days.
HOURLY_UP_TO_DAYS = 3


@dataclass(frozen=True)
class DateRange:
    """Whole local days, both ends included."""

    start: date
    end: date
    # The start asked for when it was more than MAX_DAYS before the end: the page says so.
    asked_start: date | None = field(default=None, compare=False)
    # What was typed for a date that is none ("2025-02-30"): the page says it was left out.
    unreadable: tuple[str, ...] = field(default=(), compare=False)
    # Closes from this moment (a whole hour) on are not counted: see previous().
    cut: datetime | None = None

    @classmethod
    def parse(cls, params: Any, *, today: date | None = None) -> DateRange:
        today = today or timezone.localdate()
        typed = {name: (params.get(name) or "").strip() for name in ("start", "end")}
        unreadable = tuple(text for text in typed.values() if text and _parse_date(text) is None)
        end = _parse_date(typed["end"]) or today
        start = _parse_date(typed["start"]) or end - timedelta(days=DEFAULT_DAYS - 1)
        if start > end:
            start, end = end, start
        earliest = end - timedelta(days=MAX_DAYS - 1)
        if start < earliest:
            return cls(earliest, end, asked_start=start, unreadable=unreadable)
        return cls(start, end, unreadable=unreadable)

    @property
    def since(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.start, time.min))

    @property
    def until(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.end + timedelta(days=1), time.min))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def period(self) -> str:
        return Period.HOUR if self.days <= HOURLY_UP_TO_DAYS else Period.DAY

    def buckets(self) -> list[datetime]:
        """Every bucket start of the range at its plotting period, empty ones included."""
        if self.period == Period.DAY:
            return [
                timezone.make_aware(datetime.combine(self.start + timedelta(days=i), time.min))
                for i in range(self.days)
            ]
        out, moment = [], self.since
        while moment < self.until:
            out.append(moment)
            moment += timedelta(hours=1)
        return out

    def label(self, bucket: datetime, now: datetime | None = None) -> str:
        local = timezone.localtime(bucket)
        text = local.strftime("%Y-%m-%d") if self.period == Period.DAY else local.strftime("%m-%d %H:00")
        end = bucket + timedelta(hours=1) if self.period == Period.HOUR else day_end(bucket)
        if bucket <= (now or timezone.now()) < end:
            # Today's bar beside whole days read as a fall in the evening's chats at noon.
            return _("%(period)s (so far)") % {"period": text}
        return text

    def iso(self, bucket: datetime) -> str:
        """The bucket for CSV: a date, or a local ISO time for hours."""
        local = timezone.localtime(bucket)
        return local.date().isoformat() if self.period == Period.DAY else local.isoformat()

    def query(self) -> str:
        return f"start={self.start.isoformat()}&end={self.end.isoformat()}"

    def previous(self, now: datetime | None = None) -> DateRange:
        """The as many days just before: what "this week against last" compares with.

        A range that ends today has counted today only up to now, and set beside as many
        whole days before, a morning's 40 chats read as a fall from yesterday's 120. So
        those days are counted up to the same time of day (`cut`, to the nearest hour: the
        aggregates are hourly), and both sides are as long."""
        before = DateRange(self.start - timedelta(days=self.days), self.start - timedelta(days=1))
        now = now or timezone.now()
        if self.until <= now:
            return before
        same_time = floor_hour(now - timedelta(days=self.days) + timedelta(minutes=30))
        return replace(before, cut=min(same_time, before.until))


def figures_as_of(now: datetime | None = None) -> datetime:
    """The pages count every close written before this moment.

    The pages read aggregates, which aggregate_recent brings up to date every
    ANALYTICS_REFRESH_SECONDS: a close written since then has only marked its hour dirty.
    So: the oldest mark still waiting, else now."""
    now = now or timezone.now()
    waiting = DirtyHour.objects.aggregate(oldest=Min("marked_at"))["oldest"]
    return min(waiting, now) if waiting else now


# A date as a manager types it into the range's text boxes: 2025-03-04, 2025/3/4, 2025.3.4 or
# 2025年3月4日, in ASCII or full-width digits (\d matches both, int() reads both).
_TYPED_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _parse_date(value: str | None) -> date | None:
    found = _TYPED_DATE.fullmatch(value.strip()) if value else None
    try:
        return date(*(int(part) for part in found.groups())) if found else None
    except ValueError:
        return None


def _rows(rng: DateRange, dimension: str, period: str | None = None):
    return Aggregate.objects.filter(
        period=period or Period.DAY, dimension=dimension, bucket__gte=rng.since, bucket__lt=rng.until
    )


def _settled(bucket: datetime, period: str, cutoff: datetime) -> bool:
    """True when every chat of the bucket closed more than 24 h ago: its resolution is final."""
    end = bucket + timedelta(hours=1) if period == Period.HOUR else day_end(bucket)
    return end <= cutoff


def _cutoff() -> datetime:
    return timezone.now() - RETURN_WINDOW


@dataclass
class Sums:
    """Totals of a set of aggregate rows, and of those among them whose resolution is final."""

    all: Totals = field(default_factory=empty_totals)
    settled: Totals = field(default_factory=empty_totals)

    def add(self, row: Aggregate | Totals, settled: bool) -> None:
        add_totals(self.all, row)
        if settled:
            add_totals(self.settled, row)

    def kpis(self) -> dict[str, Any]:
        return kpis(self.all, self.settled)


def _whole_rows(rng: DateRange, dimension: str) -> list[tuple[Aggregate, str]]:
    """(row, its period) of every close in the range: day rows, and for a range cut short
    (DateRange.cut) the day of the cut by its hours before the cut."""
    if rng.cut is None:
        return [(row, Period.DAY) for row in _rows(rng, dimension)]
    cut_day = day_start(rng.cut)
    days = _rows(rng, dimension).filter(bucket__lt=cut_day)
    hours = _rows(rng, dimension, Period.HOUR).filter(bucket__gte=cut_day, bucket__lt=rng.cut)
    return [(row, Period.DAY) for row in days] + [(row, Period.HOUR) for row in hours]


def _settled_hours(rng: DateRange, dimension: str, cutoff: datetime) -> dict[str, list[Aggregate]]:
    """Per key, the hour rows of the day the cutoff falls in that ended before it.

    That day is not settled as a whole, yet most of its chats closed over 24 h ago: on a
    Monday morning Sunday's resolution read "Not known yet" and the week's rate left out all
    of Sunday, while its note said it counted every chat closed over 24 h ago."""
    day = day_start(cutoff)
    if not rng.since <= day < rng.until:
        return {}
    out: dict[str, list[Aggregate]] = defaultdict(list)
    for row in _rows(rng, dimension, Period.HOUR).filter(bucket__gte=day, bucket__lte=cutoff - timedelta(hours=1)):
        out[row.key].append(row)
    return out


def _add_day(sums: Sums, row: Aggregate, period: str, cutoff: datetime, hours: dict[str, list[Aggregate]]) -> None:
    """A row into `sums`; a day row of the cutoff's day with its settled hours as its settled part."""
    straddles = period == Period.DAY and row.bucket == day_start(cutoff)
    sums.add(row, not straddles and _settled(row.bucket, period, cutoff))
    for hour in hours.get(row.key, []) if straddles else []:
        add_totals(sums.settled, hour)


def totals_by_key(rng: DateRange, dimension: str) -> dict[str, Sums]:
    out: dict[str, Sums] = defaultdict(Sums)
    cutoff = _cutoff()
    hours = _settled_hours(rng, dimension, cutoff)
    for row, period in _whole_rows(rng, dimension):
        _add_day(out[row.key], row, period, cutoff, hours)
    return dict(out)


def series(rng: DateRange, dimension: str = Dim.ALL, key: str = "") -> list[tuple[datetime, Sums]]:
    by_bucket = {row.bucket: row for row in _rows(rng, dimension, rng.period).filter(key=key)}
    cutoff = _cutoff()
    hours = _settled_hours(rng, dimension, cutoff) if rng.period == Period.DAY else {}
    points = []
    for bucket in rng.buckets():
        sums = Sums()
        if bucket in by_bucket:
            _add_day(sums, by_bucket[bucket], rng.period, cutoff, hours)
        points.append((bucket, sums))
    return points


# --- Metrics from totals ------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def kpis(t: Totals, settled: Totals | None = None) -> dict[str, Any]:
    """Every headline metric of a set of conversations, from its totals (docs/metrics.md).

    The bot resolution rate only counts `settled` conversations, those that closed
    more than 24 h ago: counting the recent ones would count their handoffs (final
    at once) without their bot resolutions (final a day later).
    """
    s = t if settled is None else settled
    judged = s["bot_resolved"] + s["returned"] + s["handed_off"]
    return {
        "conversations": t["conversations"],
        "bot_resolved": t["bot_resolved"],
        "returned": t["returned"],
        "pending": t["pending"],
        "handed_off": t["handed_off"],
        "bot_resolution_rate": _ratio(s["bot_resolved"], judged),
        "resolution_judged": judged,
        "unsettled": t["conversations"] - s["conversations"],
        "handoff_rate": _ratio(t["handed_off"], t["conversations"]),
        "csat_avg": _ratio(t["csat_sum"], t["csat_count"]),
        "csat_count": t["csat_count"],
        "csat_satisfied": _ratio(sum(t["csat_hist"][3:5]), t["csat_count"]),
        # The ratings of 1 and 2: the chats a manager reads first (the overview links to them).
        "csat_low": sum(t["csat_hist"][0:2]),
        "ttft_p50_ms": histogram.percentile(t["ttft_hist"], 0.50),
        "ttft_p95_ms": histogram.percentile(t["ttft_hist"], 0.95),
        "ttft_avg_ms": _ratio(t["ttft_sum_ms"], t["ttft_count"]),
        "llm_error_rate": _ratio(t["bot_failures"], t["bot_answers"]),
        "first_response_avg_s": _ratio(t["first_response_sum_s"], t["first_response_count"]),
        "handle_avg_s": _ratio(t["handle_sum_s"], t["handle_count"]),
        "queue_wait_avg_s": _ratio(t["queue_wait_sum_s"], t["queue_wait_count"]),
        "duration_avg_s": _ratio(t["duration_s"], t["conversations"]),
        "turns_avg": _ratio(t["turns"], t["conversations"]),
        "tokens": t["prompt_tokens"] + t["completion_tokens"],
        "sentiment_first_avg": _ratio(t["sentiment_first_sum"], t["sentiment_count"]),
        "sentiment_last_avg": _ratio(t["sentiment_last_sum"], t["sentiment_count"]),
        "negative_share": _ratio(t["negative_count"], t["sentiment_count"]),
        "improved_share": _ratio(t["improved_count"], t["sentiment_count"]),
        "worsened_share": _ratio(t["worsened_count"], t["sentiment_count"]),
    }


def overview(rng: DateRange) -> dict[str, Any]:
    points = series(rng)
    total = Sums()
    for _bucket, sums in points:
        add_totals(total.all, sums.all)
        add_totals(total.settled, sums.settled)
    reasons = sorted(totals_by_key(rng, Dim.REASON).items(), key=lambda kv: -kv[1].all["conversations"])
    return {
        "kpis": total.kpis(),
        "csat_hist": total.all["csat_hist"],
        "series": [(b, sums.kpis()) for b, sums in points],
        "reasons": [(key, sums.all["conversations"]) for key, sums in reasons],
    }


def before(rng: DateRange) -> dict[str, Any]:
    """The overview's key figures and handoff reasons of the as many days just before `rng`
    (DateRange.previous: cut at the same time of day when `rng` ends today)."""
    previous = rng.previous()
    reasons = sorted(totals_by_key(previous, Dim.REASON).items(), key=lambda kv: -kv[1].all["conversations"])
    return {
        "range": previous,
        "kpis": totals_by_key(previous, Dim.ALL).get("", Sums()).kpis(),
        "reasons": [(key, sums.all["conversations"]) for key, sums in reasons],
    }


def reasons_against(now: list[tuple[str, int]], before: list[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """(reason, chats in the range, chats in the range before) for every reason of either, most now first:
    why handoffs are up is the reason that grew, and one gone since still shows."""
    earlier = dict(before)
    rows = [(key, n, earlier.pop(key, 0)) for key, n in now]
    return rows + sorted(((key, 0, n) for key, n in earlier.items()), key=lambda row: -row[2])


def sentiment_series(rng: DateRange) -> list[tuple[datetime, dict[str, Any]]]:
    return [(b, sums.kpis()) for b, sums in series(rng)]


def breakdown(rng: DateRange, dimension: str) -> list[tuple[str, dict[str, Any]]]:
    """Per intent / server / agent: metrics of the range, largest first."""
    rows = totals_by_key(rng, dimension)
    return sorted(((key, sums.kpis()) for key, sums in rows.items()), key=lambda kv: (-kv[1]["conversations"], kv[0]))


def intent_labels() -> dict[str, str]:
    """Each intent's name as the reader knows it: its label in the active language (agents.Intent)."""
    from agents.models import Intent

    language = translation.get_language() or settings.LANGUAGE_CODE
    return {i.name: i.label(language) or i.name for i in Intent.objects.only("name", "label_en", "label_zh")}


def intent_label(key: str, labels: dict[str, str]) -> str:
    """The label of an intent key; the key itself for an intent no longer defined, "Unknown" for none."""
    return labels.get(key, key) if key else str(_("Unknown"))


def agents(rng: DateRange) -> tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]:
    """Each agent's chats by name, and apart the chats a human was asked for that nobody
    took: the players the agents' rows leave out (0 chats when there were none)."""
    rows = breakdown(rng, Dim.AGENT)
    users = get_user_model().objects.in_bulk([int(k) for k, _ in rows if k.isdigit()])
    named, untaken = [], Sums().kpis()
    for key, metrics in rows:
        if key == UNTAKEN:
            untaken = metrics
            continue
        user = users.get(int(key)) if key.isdigit() else None
        # The key too, for the link to the agent's chats.
        named.append((_agent_name(user) if user else f"#{key}", {**metrics, "key": key}))
    return named, untaken


def _agent_name(user) -> str:
    return user.get_full_name() or user.get_username()


def agent_named(key: str) -> str:
    """The chats page's agent: by name; "Not taken by anyone" for the handed-off chats nobody took."""
    if key == UNTAKEN:
        return str(_("Not taken by anyone"))
    user = get_user_model().objects.filter(pk=int(key)).first()
    return _agent_name(user) if user else f"#{key}"


def knowledge_gaps(rng: DateRange, *, limit: int = 50, examples: int = 3) -> dict[str, Any]:
    in_range = KnowledgeGap.objects.filter(created_at__gte=rng.since, created_at__lt=rng.until)
    counts = list(in_range.values("cluster_id").annotate(n=Count("pk")).order_by("-n", "cluster_id")[:limit])
    clusters = GapCluster.objects.in_bulk([c["cluster_id"] for c in counts])
    samples: dict[int, list[str]] = defaultdict(list)
    # A group is named by its first question, in whichever language that was asked: the Chinese
    # page named a group asked mostly in Chinese by its English first. The reader gets the
    # latest phrasing in their own language when the first is in the other.
    reader = translation.get_language() or settings.LANGUAGE_CODE
    in_readers: dict[int, str] = {}
    for cluster_id, question, language in (
        in_range.filter(cluster_id__in=clusters)
        .order_by("-created_at")
        .values_list("cluster_id", "question", "language")
    ):
        if len(samples[cluster_id]) < examples and question not in samples[cluster_id]:
            samples[cluster_id].append(question)
        if language == reader:
            in_readers.setdefault(cluster_id, question)
    # A group takes the same question in either language (gaps.py): the group's own language,
    # its first question's, would call a group asked mostly in English "Simplified Chinese".
    languages: dict[int, list[str]] = defaultdict(list)
    for cluster_id, language in (
        in_range.filter(cluster_id__in=clusters)
        .exclude(language="")
        .values("cluster_id", "language")
        .annotate(n=Count("pk"))
        .order_by("-n", "language")
        .values_list("cluster_id", "language")
    ):
        languages[cluster_id].append(language)
    per_day = dict(
        in_range.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    days = [rng.start + timedelta(days=i) for i in range(rng.days)]
    return {
        "groups": [
            {
                "cluster": clusters[c["cluster_id"]],
                "label": _gap_label(clusters[c["cluster_id"]], reader, in_readers.get(c["cluster_id"])),
                "count": c["n"],
                "examples": samples[c["cluster_id"]],
                "languages": languages[c["cluster_id"]],
            }
            for c in counts
        ],
        "total": in_range.count(),
        "days": [(d, per_day.get(d, 0)) for d in days],
    }


def _gap_label(cluster: GapCluster, reader: str, in_readers: str | None) -> str:
    return in_readers if in_readers and cluster.language != reader else cluster.label


def alerts(rng: DateRange) -> dict[str, Any]:
    in_range = Alert.objects.filter(raised_at__gte=rng.since, raised_at__lt=rng.until)
    per_day: dict[tuple[date, str], int] = defaultdict(int)
    for raised_at, kind in in_range.values_list("raised_at", "kind"):
        per_day[(timezone.localdate(raised_at), kind)] += 1
    return {
        "active": list(Alert.objects.filter(state=Alert.State.ACTIVE).order_by("-raised_at")),
        "history": list(in_range.order_by("-raised_at")[:500]),
        "per_day": per_day,
        "days": [rng.start + timedelta(days=i) for i in range(rng.days)],
    }


# The chats page lists at most this many, newest first, and says how many there were.
CHATS_SHOWN = 200


@dataclass(frozen=True)
class Drill:
    """Which of a range's chats a figure counted: one of a knowledge-gap group's (`gap`), an
    intent's (`intent`, "" for none), a handoff reason's (`reason`), an agent's (`agent`, the
    user's id; "" for the handed-off chats nobody took) or those rated `ratings`."""

    gap: int | None = None
    intent: str | None = None
    reason: str | None = None
    agent: str | None = None
    ratings: tuple[int, ...] = ()

    @classmethod
    def parse(cls, params: Any) -> Drill:
        gap, agent = params.get("gap", ""), params.get("agent")
        ratings = tuple(sorted({int(r) for r in params.getlist("rating") if r in {"1", "2", "3", "4", "5"}}))
        return cls(
            gap=int(gap) if gap.isdigit() else None,
            intent=params.get("intent"),
            reason=params.get("reason") or None,
            agent=agent if agent is None or agent == UNTAKEN or agent.isdigit() else None,
            ratings=ratings,
        )

    def params(self) -> list[tuple[str, Any]]:
        pairs = [("gap", self.gap), ("intent", self.intent), ("reason", self.reason), ("agent", self.agent)]
        return [(k, v) for k, v in pairs if v is not None] + [("rating", r) for r in self.ratings]

    def query(self) -> str:
        return urlencode(self.params())


def chats_behind(rng: DateRange, drill: Drill, *, limit: int = CHATS_SHOWN) -> dict[str, Any]:
    """The chats a figure of the pages counted, newest first: what a manager reads next.

    A knowledge gap's chats are those where one of its group's questions was asked in the
    range (open ones too: the gaps page counts questions when asked); every other figure
    counts closed chats by their close, as the aggregates do (docs/metrics.md)."""
    from chat.models import Conversation

    asked: dict[int, str] = {}
    in_readers, reader = "", translation.get_language() or settings.LANGUAGE_CODE
    if drill.gap is not None:
        gaps = KnowledgeGap.objects.filter(
            cluster_id=drill.gap, created_at__gte=rng.since, created_at__lt=rng.until, conversation__isnull=False
        )
        for conversation_id, question, language in gaps.order_by("-created_at").values_list(
            "conversation_id", "question", "language"
        ):
            asked.setdefault(conversation_id, question)
            if language == reader:
                in_readers = in_readers or question
        total, ids = len(asked), list(asked)[:limit]
    else:
        stats = ConversationStats.objects.filter(closed_at__gte=rng.since, closed_at__lt=rng.until).exclude(
            resolution=ConversationStats.Resolution.EMPTY
        )
        if drill.intent is not None:
            stats = stats.filter(intent=drill.intent)
        if drill.reason is not None:
            stats = stats.filter(handed_off=True, handoff_reason=drill.reason)
        if drill.agent == UNTAKEN:
            stats = stats.filter(handed_off=True, agent__isnull=True)
        elif drill.agent is not None:
            stats = stats.filter(agent_id=int(drill.agent))
        if drill.ratings:
            stats = stats.filter(csat_score__in=drill.ratings)
        total = stats.count()
        ids = list(stats.order_by("-closed_at", "-pk").values_list("pk", flat=True)[:limit])
    found = Conversation.objects.select_related("player", "stats", "stats__agent", "csat").in_bulk(ids)
    labels = intent_labels()
    rows = []
    for pk in ids:
        conversation = found[pk]
        stats = getattr(conversation, "stats", None)
        rating = getattr(conversation, "csat", None)
        agent = stats.agent if stats else None
        rows.append(
            {
                "conversation": conversation,
                "closed_at": stats.closed_at if stats else None,
                "intent": intent_label(conversation.intent, labels),
                "outcome": stats.get_resolution_display() if stats else _("still open"),
                "reason": stats.handoff_reason if stats and stats.handed_off else "",
                "agent": _agent_name(agent) if agent else "",
                "rating": rating,
                "question": asked.get(pk, ""),
            }
        )
    cluster = GapCluster.objects.filter(pk=drill.gap).first() if drill.gap is not None else None
    # Named as on the gaps page, which the manager came from.
    label = _gap_label(cluster, reader, in_readers) if cluster else ""
    return {"rows": rows, "total": total, "cluster": cluster, "gap_label": label}
