"""Facts of one closed conversation (docs/metrics.md, "Per conversation").

`stats_build` is pure: it reads a conversation, its messages, its events and its
rating and returns an unsaved ConversationStats. `stats_compute` loads and saves
one conversation (the close task); `stats_compute_many` does the same for a batch
in a handful of queries (the history generator and the sweep for missed closes).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from analytics.models import ConversationStats, CsatRating
from analytics.services import aggregation, resolution
from chat.models import Conversation, ConversationEvent, Message

Kind = ConversationEvent.Kind

# Events after which a human holds the chat, and those after which nobody does.
_HOLD = {Kind.TAKEN_OVER, Kind.TRANSFERRED}
_RELEASE = {Kind.HANDED_BACK, Kind.CLOSED, Kind.REQUEUED}
# Events that put a chat in the queue, and those that take it out (a human took it, the player
# went back to the bot, or it was closed).
_QUEUE = {Kind.ESCALATED, Kind.REQUEUED}
_UNQUEUE = {Kind.TAKEN_OVER, Kind.TRANSFERRED, Kind.HANDED_BACK, Kind.CLOSED}

# Fields written by bulk upsert: everything but the primary key.
_FIELDS = [f.name for f in ConversationStats._meta.concrete_fields if not f.primary_key]


def sentiment_score(meta: dict) -> float | None:
    """A message's sentiment as the brain stores it: meta["sentiment"] as a number or {"score": n}."""
    value = meta.get("sentiment") if isinstance(meta, dict) else None
    if isinstance(value, dict):
        value = value.get("score")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _intent_name(meta: dict) -> str:
    value = meta.get("intent") if isinstance(meta, dict) else None
    if isinstance(value, dict):
        value = value.get("name")
    return value[:64] if isinstance(value, str) else ""


def closed_time(conversation: Conversation, events: Sequence[ConversationEvent]) -> datetime:
    if conversation.closed_at:
        return conversation.closed_at
    closes = [e.created_at for e in events if e.kind == Kind.CLOSED]
    return closes[-1] if closes else conversation.updated_at


def stats_build(
    *,
    conversation: Conversation,
    messages: Sequence[Message],
    events: Sequence[ConversationEvent],
    csat_score: int | None,
) -> ConversationStats:
    """The facts of a closed conversation. Messages in seq order, events in time order."""
    closed_at = closed_time(conversation, events)
    visible = [m for m in messages if not m.internal]
    player = [m for m in visible if m.sender == Message.Sender.PLAYER]
    bot = [m for m in visible if m.sender == Message.Sender.BOT and m.status != Message.Status.STREAMING]
    agent = [m for m in visible if m.sender == Message.Sender.AGENT]
    ttfts = [m.ttft_ms for m in bot if m.ttft_ms is not None]

    escalated_at, reason = _escalation(conversation, events, agent)
    handed_off = escalated_at is not None
    first_response_s = None
    if escalated_at is not None:
        replies = [m.created_at for m in agent if m.created_at >= escalated_at]
        if replies:
            first_response_s = (min(replies) - escalated_at).total_seconds()

    scores = [s for s in (sentiment_score(m.meta) for m in player) if s is not None]
    if not scores and conversation.sentiment is not None:
        scores = [conversation.sentiment]

    intents = _intents(conversation, messages)
    turns = len(player)
    if turns == 0:
        outcome = ConversationStats.Resolution.EMPTY
    elif handed_off:
        outcome = ConversationStats.Resolution.HANDED_OFF
    else:
        # Final only 24 h later: analytics.services.resolution.
        outcome = ConversationStats.Resolution.PENDING

    return ConversationStats(
        conversation_id=conversation.pk,
        player_id=conversation.player_id,
        started_at=conversation.created_at,
        closed_at=closed_at,
        duration_s=max(0.0, (closed_at - conversation.created_at).total_seconds()),
        turns=turns,
        bot_answers=len(bot),
        bot_failures=sum(1 for m in bot if m.status == Message.Status.FAILED),
        handed_off=handed_off,
        handoff_reason=reason,
        escalated_at=escalated_at,
        agent_id=_agent_id(conversation, events, agent),
        first_response_s=first_response_s,
        handle_time_s=_handle_time(events, agent, closed_at),
        queue_wait_s=_queue_wait(events, closed_at),
        ttft_ms_values=ttfts,
        ttft_avg_ms=statistics.fmean(ttfts) if ttfts else None,
        ttft_p50_ms=float(statistics.median(ttfts)) if ttfts else None,
        ttft_max_ms=max(ttfts) if ttfts else None,
        prompt_tokens=sum(m.prompt_tokens for m in bot),
        completion_tokens=sum(m.completion_tokens for m in bot),
        intent=intents[-1] if intents else "",
        intents=intents,
        server=str((conversation.facts or {}).get("server") or "")[:64],
        language=conversation.language,
        sentiment_first=scores[0] if scores else None,
        sentiment_last=scores[-1] if scores else None,
        sentiment_min=min(scores) if scores else None,
        csat_score=csat_score,
        resolution=outcome,
        computed_at=timezone.now(),
    )


def _escalation(
    conversation: Conversation, events: Sequence[ConversationEvent], agent: Sequence[Message]
) -> tuple[datetime | None, str]:
    """When a human was first asked for (or stepped in), and why."""
    for event in events:
        if event.kind == Kind.ESCALATED:
            return event.created_at, event.reason or conversation.handoff_reason or "unknown"
    for event in events:
        if event.kind == Kind.TAKEN_OVER:
            # Nobody asked: an agent stepped in on their own.
            return event.created_at, event.reason or conversation.handoff_reason or "agent_takeover"
    if agent:
        return agent[0].created_at, conversation.handoff_reason or "agent_takeover"
    return None, ""


def _agent_id(conversation: Conversation, events: Sequence[ConversationEvent], agent: Sequence[Message]) -> int | None:
    """The human the chat ended with: the assignee, else the last agent who wrote or took it."""
    if conversation.assignee_id:
        return conversation.assignee_id
    for message in reversed(agent):
        if message.author_id:
            return message.author_id
    for event in reversed(events):
        if event.kind in _HOLD and event.actor_id:
            return event.actor_id
    return None


def _handle_time(events: Sequence[ConversationEvent], agent: Sequence[Message], closed_at: datetime) -> float | None:
    """Seconds a human held the chat: from each takeover to the hand-back or the close."""
    held_since: datetime | None = None
    total = 0.0
    holds = 0
    for event in events:
        if event.kind in _HOLD and held_since is None:
            held_since = event.created_at
            holds += 1
        elif event.kind in _RELEASE and held_since is not None:
            total += (event.created_at - held_since).total_seconds()
            held_since = None
    if held_since is not None:
        total += (closed_at - held_since).total_seconds()
    if holds:
        return total
    if agent:
        # No takeover recorded (older chats): the human held it from their first message.
        return max(0.0, (closed_at - agent[0].created_at).total_seconds())
    return None


def _queue_wait(events: Sequence[ConversationEvent], closed_at: datetime) -> float | None:
    """Seconds the chat sat in the queue with nobody holding it; None when it never joined it.

    For a chat nobody took, the time the player waited before giving up (going back to the
    bot) or the chat was closed from the queue: what the agents page reports for them."""
    queued_since: datetime | None = None
    total = 0.0
    queued = False
    for event in events:
        if event.kind in _QUEUE and queued_since is None:
            queued_since, queued = event.created_at, True
        elif event.kind in _UNQUEUE and queued_since is not None:
            total += (event.created_at - queued_since).total_seconds()
            queued_since = None
    if queued_since is not None:
        total += (closed_at - queued_since).total_seconds()
    return max(0.0, total) if queued else None


def _intents(conversation: Conversation, messages: Sequence[Message]) -> list[str]:
    """Every intent seen, in order of first appearance; the conversation's current one last."""
    seen: list[str] = []
    for message in messages:
        name = _intent_name(message.meta)
        if name and name not in seen:
            seen.append(name)
    if conversation.intent:
        if conversation.intent in seen:
            seen.remove(conversation.intent)
        seen.append(conversation.intent[:64])
    return seen


def _load(conversation_ids: Sequence[int]) -> Iterable[ConversationStats]:
    conversations = Conversation.objects.filter(pk__in=conversation_ids, state=Conversation.State.CLOSED)
    ids = [c.pk for c in conversations]
    messages: dict[int, list[Message]] = defaultdict(list)
    for m in Message.objects.filter(conversation_id__in=ids).order_by("conversation_id", "seq").defer("text", "error"):
        messages[m.conversation_id].append(m)
    events: dict[int, list[ConversationEvent]] = defaultdict(list)
    for e in ConversationEvent.objects.filter(conversation_id__in=ids).order_by("created_at", "pk"):
        events[e.conversation_id].append(e)
    scores = dict(CsatRating.objects.filter(conversation_id__in=ids).values_list("conversation_id", "score"))
    for conversation in conversations:
        yield stats_build(
            conversation=conversation,
            messages=messages[conversation.pk],
            events=events[conversation.pk],
            csat_score=scores.get(conversation.pk),
        )


def stats_compute(*, conversation_id: int) -> ConversationStats | None:
    """Compute and store one closed conversation's facts; None when it is not closed (any more)."""
    rows = stats_compute_many(conversation_ids=[conversation_id])
    return rows[0] if rows else None


def stats_compute_many(*, conversation_ids: Sequence[int]) -> list[ConversationStats]:
    """Compute and store the facts of closed conversations; open ones are skipped.

    Idempotent: a second run writes the same rows. The hours touched (old and new
    close times) are marked for re-aggregation, and resolution looks back at the
    players' earlier chats, which this one may have just made "returned".
    """
    rows = list(_load(conversation_ids))
    if not rows:
        return []
    previous = dict(
        ConversationStats.objects.filter(conversation_id__in=[r.conversation_id for r in rows]).values_list(
            "conversation_id", "closed_at"
        )
    )
    with transaction.atomic():
        ConversationStats.objects.bulk_create(
            rows, batch_size=500, update_conflicts=True, unique_fields=["conversation"], update_fields=_FIELDS
        )
        aggregation.hours_mark_dirty([r.closed_at for r in rows] + list(previous.values()))
        resolution.resolution_update(player_ids={r.player_id for r in rows})
    return rows


def stats_sweep_missed(*, within: timedelta = timedelta(days=2), limit: int = 1000) -> int:
    """Compute the stats of recent closes that have none, or older ones than the close.

    The chat enqueues the close task after each close; this catches the closes it
    did not report (a crash between commit and enqueue, a close by another path).
    """
    since = timezone.now() - within
    missed = (
        Conversation.objects.filter(state=Conversation.State.CLOSED, updated_at__gte=since)
        .filter(Q(stats__isnull=True) | Q(stats__closed_at__lt=F("closed_at")))
        .values_list("pk", flat=True)[:limit]
    )
    ids = list(missed)
    for start in range(0, len(ids), 200):
        stats_compute_many(conversation_ids=ids[start : start + 200])
    return len(ids)
