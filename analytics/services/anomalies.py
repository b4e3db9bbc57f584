"""Anomaly detection: the last few minutes against a baseline (docs/metrics.md, "Alerts").

Each signal is read twice by the same function from the same raw rows: over the
window (the last few minutes) and over the 24 hours before it, the baseline (for the
handoff surge, the same hour of the days before, when there are enough of them). So
the two are alike in unit and population. The hourly aggregates would not do:
they hold closed chats only, by their close, and only staff close a chat, so
they leave out every chat the bot kept and count those a human took (asked for
after failed answers, slow ones or an angry player) as if they were the usual.
Each read is of indexed times and at most a day of rows, however much history
there is. Each detector returns Signals; `anomalies_detect` turns them into
raised or cleared alerts.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models import Alert, WorkerHeartbeat
from analytics.services import histogram
from analytics.services.aggregation import NEGATIVE_SENTIMENT
from analytics.services.alerts import Signal, alert_sync
from chat.models import Conversation, ConversationEvent, Message

Kind = Alert.Kind
T = TypeVar("T")
Event = ConversationEvent.Kind


@dataclass(frozen=True)
class Rules:
    """When a signal is off. A reading is abnormal at or above its threshold, which is
    the larger of a fixed floor and a multiple of the baseline; too few samples is normal,
    except for the bot's answers (`unread_hold`)."""

    window: timedelta = timedelta(minutes=10)
    baseline: timedelta = timedelta(hours=24)
    error_min_answers: int = 10
    # One failed answer of ten is 10%, the floor: a quiet night's single timeout raised the
    # alert, posted to the ops team's chat, and held for unread_hold. Three failures are news.
    error_min_failed: int = 3
    error_rate_floor: float = 0.10
    error_rate_factor: float = 3.0
    # ...and as many as chance would give at the usual rate (a third of the threshold) at most
    # this seldom: at 1,000 chats a day, 3 failures of 10 answers, or of 21, came about once a
    # day at the usual 1.5% and raised the alert before any outage. A threshold and a count
    # alone can't tell a busy window's three from a quiet one's.
    error_chance: float = 0.003
    ttft_min_answers: int = 10
    ttft_p95_floor_ms: float = 3000.0
    ttft_p95_factor: float = 2.0
    handoff_floor: int = 5
    handoff_factor: float = 3.0
    # Players ask for a person by the time of day, not at a steady rate: against the 24-hour
    # mean every evening peak read as a surge and a surge at night as calm. So the usual is the
    # same hour (a bin this wide around the window's time) on each of the days before, up to
    # handoff_days of them; with fewer than handoff_min_days of history, the 24 hours before.
    handoff_days: int = 7
    handoff_min_days: int = 3
    handoff_bin: timedelta = timedelta(hours=1)
    # In an outage players ask for a person at about the threshold's rate: five escalations in
    # ten minutes, two the next, then six. Cleared once a window read below the threshold, the
    # surge of a replayed two-hour outage read "raised" and "cleared" up to five times. Raised,
    # it stays while the window holds at least a third of the threshold (three times the usual,
    # so: more than the usual) and clears once none has for handoff_quiet.
    handoff_quiet: timedelta = timedelta(minutes=30)
    sentiment_min_chats: int = 10
    sentiment_server_min_chats: int = 5
    sentiment_share_floor: float = 0.3
    sentiment_factor: float = 2.0
    queue_wait_floor_s: float = 300.0
    queue_wait_factor: float = 3.0
    # The beat schedule runs the heartbeat every 30 s: four missed beats is a stopped worker.
    heartbeat_stale_s: float = 120.0
    # Too few answers to read the LLM's health says nothing of it: an outage at a quiet hour
    # (a few answers in ten minutes, most failing) cleared its alert and raised it again, and
    # the ops team read "Cleared" twice in a two-hour outage. An active alert on the answers
    # stays until a window with enough answers reads normal, or none has read off for this long.
    unread_hold: timedelta = timedelta(minutes=30)
    # ...and at a quiet hour the answers' window widens, a window at a time, up to this many,
    # until it holds enough answers: a two-hour outage with six answers in ten minutes was
    # never read at all (the description says how many minutes it read).
    widen_up_to: int = 3


RULES = Rules()


@dataclass(frozen=True)
class Periods:
    """The `created_at` lookups of the window and of its baseline, the 24 hours just before it."""

    window: dict[str, datetime]
    before: dict[str, datetime]

    @classmethod
    def of(cls, now: datetime, rules: Rules, windows: int = 1) -> Periods:
        start = now - rules.window * windows
        return cls(
            window={"created_at__gte": start, "created_at__lte": now},
            before={"created_at__gte": start - rules.baseline, "created_at__lt": start},
        )


# The baselines read a day of raw rows (at a large game's volume, hundreds of thousands),
# and detection runs every minute, while a day's baseline hardly moves in ten minutes:
# each process reads it again only when the baseline period has moved on this much.
BASELINE_REUSE = timedelta(minutes=10)


class _Usual:
    """The baseline reads of this process, each kept until its period has moved BASELINE_REUSE on."""

    def __init__(self) -> None:
        self.kept: dict[tuple[str, timedelta], tuple[datetime, Any]] = {}

    def __call__(self, read: Callable[..., T], periods: Periods) -> T:
        start, end = periods.before["created_at__gte"], periods.before["created_at__lt"]
        key = (read.__qualname__, end - start)
        hit = self.kept.get(key)
        if hit is not None and timedelta(0) <= start - hit[0] < BASELINE_REUSE:
            return hit[1]
        value = read(**periods.before)
        self.kept[key] = (start, value)
        return value

    def forget(self) -> None:
        self.kept.clear()


usual = _Usual()


def _threshold(floor: float, factor: float, baseline: float | None) -> float:
    return max(floor, factor * baseline) if baseline is not None else floor


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _answers(**created_at: datetime) -> tuple[int, int]:
    """Finished bot answers, and how many of them failed."""
    counts = (
        Message.objects.filter(sender=Message.Sender.BOT, **created_at)
        .exclude(status=Message.Status.STREAMING)
        .aggregate(answers=Count("pk"), failed=Count("pk", filter=Q(status=Message.Status.FAILED)))
    )
    return counts["answers"], counts["failed"]


def _widened(read: Callable[..., T], enough: Callable[[T], bool], now: datetime, rules: Rules) -> tuple[T, Periods]:
    """The reading of the last window, or of two, three… (up to `rules.widen_up_to`) while it
    has too few samples; and the periods it read (its baseline: the 24 hours before them)."""
    for windows in range(1, rules.widen_up_to + 1):
        periods = Periods.of(now, rules, windows)
        value = read(**periods.window)
        if enough(value):
            break
    return value, periods


def _before_the_alert(kind: str, periods: Periods, rules: Rules) -> Periods:
    """The periods with, while the signal's alert is active, the baseline of the 24 hours before
    the widest window that could have raised it: an outage's own failures, entering the 24 hours
    before the window as it went on, lifted its threshold (10% to 14% in a two-hour one) until a
    window at the outage's rate read normal, cleared the alert, and the next raised it again."""
    raised_at = (
        Alert.objects.filter(kind=kind, key="", state=Alert.State.ACTIVE).values_list("raised_at", flat=True).first()
    )
    if raised_at is None:
        return periods
    start = raised_at - rules.window * rules.widen_up_to
    return replace(periods, before={"created_at__gte": start - rules.baseline, "created_at__lt": start})


def _span(periods: Periods) -> int:
    return int((periods.window["created_at__lte"] - periods.window["created_at__gte"]).total_seconds() // 60)


def detect_llm_errors(now: datetime, periods: Periods, rules: Rules = RULES) -> list[Signal]:
    (answers, failed), periods = _widened(_answers, lambda read: read[0] >= rules.error_min_answers, now, rules)
    rate = _ratio(failed, answers)
    usual_answers, usual_failed = usual(_answers, _before_the_alert(Kind.LLM_ERRORS, periods, rules))
    baseline = _ratio(usual_failed, usual_answers)
    threshold = _threshold(rules.error_rate_floor, rules.error_rate_factor, baseline)
    abnormal = None if answers < rules.error_min_answers or rate is None else rate >= threshold
    data = {"failed": failed, "answers": answers, "rate": rate, "baseline": baseline, "minutes": _span(periods)}
    # Fewer than error_min_failed failures, or as many as chance gives, are too few to raise the
    # alert (a night's single timeout), but at this rate they are no recovery either: read as
    # normal, two failures of ten (20%) in an outage at a quiet hour cleared its alert, and the
    # third raised it again.
    usual_rate = threshold / rules.error_rate_factor
    raises = failed >= rules.error_min_failed and _by_chance(failed, answers, usual_rate) < rules.error_chance
    return [Signal(Kind.LLM_ERRORS, "", abnormal, rate or 0.0, threshold, baseline, data, raises=raises)]


def _by_chance(failed: int, answers: int, rate: float) -> float:
    """How often `answers` answers, each failing at `rate`, have `failed` or more failures
    (the binomial distribution's upper tail)."""
    if failed <= 0 or rate >= 1:
        return 1.0
    if rate <= 0:
        return 0.0
    tail = 0.0
    for k in range(failed, answers + 1):
        ways = math.lgamma(answers + 1) - math.lgamma(k + 1) - math.lgamma(answers - k + 1)
        term = math.exp(ways + k * math.log(rate) + (answers - k) * math.log1p(-rate))
        tail += term
        if k > answers * rate and term < tail * 1e-12:  # past the mean each term is smaller
            break
    return min(1.0, tail)


def _first_token_times(**created_at: datetime) -> list[int]:
    rows = Message.objects.filter(sender=Message.Sender.BOT, ttft_ms__isnull=False, **created_at)
    return list(rows.values_list("ttft_ms", flat=True))


def _first_token_p95(**created_at: datetime) -> float | None:
    return histogram.exact_percentile(_first_token_times(**created_at), 0.95)


def detect_ttft_p95(now: datetime, periods: Periods, rules: Rules = RULES) -> list[Signal]:
    values, periods = _widened(_first_token_times, lambda read: len(read) >= rules.ttft_min_answers, now, rules)
    p95 = histogram.exact_percentile(values, 0.95)
    baseline = usual(_first_token_p95, _before_the_alert(Kind.TTFT_P95, periods, rules))
    threshold = _threshold(rules.ttft_p95_floor_ms, rules.ttft_p95_factor, baseline)
    abnormal = None if len(values) < rules.ttft_min_answers or p95 is None else p95 >= threshold
    data = {"p95_ms": p95, "answers": len(values), "baseline_ms": baseline, "minutes": _span(periods)}
    return [Signal(Kind.TTFT_P95, "", abnormal, p95 or 0.0, threshold, baseline, data)]


def _escalations(**created_at: datetime) -> int:
    return ConversationEvent.objects.filter(kind=Event.ESCALATED, **created_at).count()


def _same_hour_escalations(periods: Periods, rules: Rules) -> list[int]:
    """Escalations in the hour around the window's time of day on each earlier day with
    history (the first chat is older than that day's hour), most recent day first.

    One query over at most `handoff_days` hours of escalations: no day of rows to keep."""
    start, end = periods.window["created_at__gte"], periods.window["created_at__lte"]
    pad = max(timedelta(0), rules.handoff_bin - (end - start)) / 2
    first = Conversation.objects.order_by("created_at").values_list("created_at", flat=True).first()
    bins = []
    for day in range(1, rules.handoff_days + 1):
        since = start - timedelta(days=day) - pad
        if first is None or since < first:
            break
        bins.append(Q(created_at__gte=since, created_at__lt=end - timedelta(days=day) + pad))
    if not bins:
        return []
    counts = ConversationEvent.objects.filter(kind=Event.ESCALATED).aggregate(
        **{f"d{n}": Count("pk", filter=q) for n, q in enumerate(bins)}
    )
    return [counts[f"d{n}"] for n in range(len(bins))]


def detect_handoff_surge(now: datetime, periods: Periods, rules: Rules = RULES) -> list[Signal]:
    """Escalations in the window against the usual number per window at this time of day: the
    mean over the same hour of the days before, or, with less history than handoff_min_days,
    over the 24 hours before the window.

    Takeovers nobody asked for are not escalations, so they never hide players asking."""
    count = _escalations(**periods.window)
    days = _same_hour_escalations(periods, rules)
    window = periods.window["created_at__lte"] - periods.window["created_at__gte"]
    if len(days) >= rules.handoff_min_days:
        bin_length = max(rules.handoff_bin, window)
        expected = statistics.fmean(days) * window / bin_length
    else:
        expected = usual(_escalations, periods) * window / rules.baseline
        days = []
    threshold = _threshold(rules.handoff_floor, rules.handoff_factor, expected)
    data = {"count": count, "expected": expected, "minutes": _minutes(rules), "days": len(days)}
    # Above the usual but under the threshold: off enough to keep a raised alert, not to raise one.
    abnormal = count >= threshold / rules.handoff_factor
    raises = count >= threshold
    return [Signal(Kind.HANDOFF_SURGE, "", abnormal, count, threshold, expected, data, raises=raises)]


def _moods(**created_at: datetime) -> dict[str, list[float]]:
    """The sentiment of each chat whose player wrote in the period, as of their last scored
    message there: all chats under "", and each game server's (facts["server"]) under its name.

    The brain stores meta["sentiment"] as {"score": n, ...}, older rows as the number itself.
    Read as text by the database: decoding every row's JSON in Python cost six times as much."""
    rows = (
        Message.objects.filter(sender=Message.Sender.PLAYER, **created_at)
        .annotate(
            score=Coalesce(KT("meta__sentiment__score"), KT("meta__sentiment")),
            server=KeyTextTransform("server", "conversation__facts"),
        )
        .exclude(score=None)
        .order_by("created_at", "pk")
        .values_list("conversation_id", "score", "server")
    )
    latest: dict[int, tuple[float, str]] = {}
    for conversation_id, text, server in rows:
        if (score := _number(text)) is not None:
            latest[conversation_id] = (score, str(server or ""))
    chats: dict[str, list[float]] = defaultdict(list)
    for score, server in latest.values():
        chats[""].append(score)
        if server:
            chats[server].append(score)
    return chats


def _number(text: str | float) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # a score that is no number (none the brain writes) counts as unscored


def _negative_share(scores: list[float]) -> tuple[int, float | None]:
    negative = sum(1 for s in scores if s < NEGATIVE_SENTIMENT)
    return negative, _ratio(negative, len(scores))


def _negative_shares(**created_at: datetime) -> dict[str, float | None]:
    """The share of unhappy chats in the period, of all ("") and of each server with chats."""
    return {key: _negative_share(scores)[1] for key, scores in _moods(**created_at).items()}


def detect_negative_sentiment(now: datetime, periods: Periods, rules: Rules = RULES) -> list[Signal]:
    """Overall, and per game server for every server with chats or an open alert."""
    chats = _moods(**periods.window)
    shares = usual(_negative_shares, periods)
    open_keys = Alert.objects.filter(kind=Kind.NEGATIVE_SENTIMENT, state=Alert.State.ACTIVE).values_list(
        "key", flat=True
    )
    signals = []
    for key in sorted({"", *chats, *open_keys}):
        scores = chats.get(key, [])
        negative, share = _negative_share(scores)
        # A server with no chats in the baseline is judged against all servers.
        baseline = shares[key] if key in shares else shares.get("")
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


def _queue_waits(**created_at: datetime) -> list[float]:
    """Seconds each chat a human took from the queue in the period had waited there.

    A chat joins the queue with an `escalated` or `requeued` event; a takeover that
    follows any other event took a chat nobody had queued (an agent stepping in)."""
    earlier = ConversationEvent.objects.filter(
        Q(created_at__lt=OuterRef("created_at")) | Q(created_at=OuterRef("created_at"), pk__lt=OuterRef("pk")),
        conversation=OuterRef("conversation"),
    ).order_by("-created_at", "-pk")
    takeovers = (
        ConversationEvent.objects.filter(kind=Event.TAKEN_OVER, **created_at)
        .annotate(previous=Subquery(earlier.values("kind")[:1]), previous_at=Subquery(earlier.values("created_at")[:1]))
        .values_list("created_at", "previous", "previous_at")
    )
    queued = {Event.ESCALATED, Event.REQUEUED}
    return [(taken - since).total_seconds() for taken, previous, since in takeovers if previous in queued]


def _mean_queue_wait(**created_at: datetime) -> float | None:
    waits = _queue_waits(**created_at)
    return statistics.fmean(waits) if waits else None


def detect_queue_wait(now: datetime, periods: Periods, rules: Rules = RULES) -> list[Signal]:
    """The longest wait of the chats in the queue now, against the mean wait of those a
    human took from it over the 24 hours before the window."""
    escalated = ConversationEvent.objects.filter(conversation=OuterRef("pk"), kind=Event.ESCALATED).order_by(
        "-created_at"
    )
    waiting = list(
        Conversation.objects.filter(state=Conversation.State.WAITING)
        .annotate(escalated_at=Subquery(escalated.values("created_at")[:1]))
        .values_list("waiting_since", "escalated_at", "updated_at")
    )
    # waiting_since is set by the takeover code; the escalation event covers rows without it.
    waits = [(now - (since or escalated_at or updated)).total_seconds() for since, escalated_at, updated in waiting]
    oldest = max(waits, default=0.0)
    baseline = usual(_mean_queue_wait, periods)
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
    periods = Periods.of(now, rules)
    signals = [
        *detect_llm_errors(now, periods, rules),
        *detect_ttft_p95(now, periods, rules),
        *detect_handoff_surge(now, periods, rules),
        *detect_negative_sentiment(now, periods, rules),
        *detect_queue_wait(now, periods, rules),
        *detect_worker_stopped(now, rules),
    ]
    return [(signal, signal_sync(signal, now=now, rules=rules)) for signal in signals]


def signal_sync(signal: Signal, *, now: datetime, rules: Rules = RULES) -> str | None:
    """Raise or clear the signal's alert as the reading bears on it (`_held`); returns what changed."""
    return alert_sync(_held(signal, now, rules), now=now)


# Read over the last `Rules.window`, they hover at the threshold while a problem lasts: five
# escalations in ten minutes one minute, four the next. A handoff surge in an outage read
# "raised" and "cleared" three times in 45 minutes in the ops team's chat.
_WINDOWED = {Kind.LLM_ERRORS, Kind.TTFT_P95, Kind.HANDOFF_SURGE, Kind.NEGATIVE_SENTIMENT}


def _held(signal: Signal, now: datetime, rules: Rules) -> Signal:
    """The reading as it bears on the signal's active alert: a windowed signal's alert clears
    once it has not read off for a whole window, and one with too few samples to read
    (`abnormal` None) once it has not read off for `rules.unread_hold`; until then the
    reading leaves the alert as it is (`abnormal` None)."""
    if signal.abnormal:
        return signal
    last_off = (
        Alert.objects.filter(kind=signal.kind, key=signal.key, state=Alert.State.ACTIVE)
        .values_list("updated_at", flat=True)
        .first()
    )
    if signal.abnormal is None:
        hold = rules.unread_hold
    elif signal.kind == Kind.HANDOFF_SURGE:
        hold = rules.handoff_quiet
    else:
        hold = rules.window if signal.kind in _WINDOWED else timedelta(0)
    if last_off is None or now - last_off >= hold:
        return replace(signal, abnormal=False)
    return replace(signal, abnormal=None)


def worker_check(*, now: datetime | None = None, rules: Rules = RULES) -> str | None:
    """Only the worker signal: run where no worker is needed (celery beat, the anomalies page)."""
    now = now or timezone.now()
    (signal,) = detect_worker_stopped(now, rules)
    return alert_sync(signal, now=now, inline=True)


def heartbeat_record(*, hostname: str, now: datetime | None = None) -> None:
    WorkerHeartbeat.objects.update_or_create(hostname=hostname[:200], defaults={"beat_at": now or timezone.now()})


def heartbeats() -> list[WorkerHeartbeat]:
    """The workers' heartbeats, newest first; none when Celery runs eagerly: no worker runs
    then, and a row there was written by a web process running the schedule (before it
    stopped writing one), which the anomalies page listed as a worker."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return []
    return list(WorkerHeartbeat.objects.order_by("-beat_at"))
