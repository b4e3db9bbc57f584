"""Honest bot resolution (docs/metrics.md, "Bot resolution").

A chat the bot closed on its own is only *pending* at first. It becomes
*returned* as soon as the same player opens another chat with the same intent
within 24 hours of the close, and *resolved by the bot* once those 24 hours have
passed without that. An unknown intent on either side counts as the same: when
we cannot tell, we do not give the bot the credit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef
from django.utils import timezone

from analytics.models import ConversationStats
from analytics.services import aggregation
from chat.models import Conversation, Message

RETURN_WINDOW = timedelta(hours=24)
_CHUNK = 2000

Resolution = ConversationStats.Resolution


def resolution_update(*, player_ids: Iterable[int] | None = None, now: datetime | None = None) -> dict[str, int]:
    """Settle the pending chats (of these players, or all): returned, resolved or still pending.

    Returns how many became each. Idempotent; safe to run concurrently, since each
    change is a conditional update from pending.
    """
    now = now or timezone.now()
    pending = ConversationStats.objects.filter(resolution=Resolution.PENDING).select_related("conversation")
    if player_ids is not None:
        pending = pending.filter(player_id__in=list(player_ids))
    counts = {Resolution.RETURNED: 0, Resolution.BOT: 0}
    rows = list(pending.only("conversation_id", "player_id", "closed_at", "intent", "conversation__state"))
    for start in range(0, len(rows), _CHUNK):
        chunk = rows[start : start + _CHUNK]
        later = _later_chats(chunk)
        settled: dict[str, list[ConversationStats]] = defaultdict(list)
        for row in chunk:
            outcome = _outcome(row, later.get(row.player_id, []), now)
            if outcome is not None:
                settled[outcome].append(row)
        for outcome, settled_rows in settled.items():
            # Only from pending: a row another process settled first keeps its outcome.
            counts[outcome] += ConversationStats.objects.filter(
                pk__in=[r.conversation_id for r in settled_rows], resolution=Resolution.PENDING
            ).update(resolution=outcome)
            aggregation.hours_mark_dirty(r.closed_at for r in settled_rows)
    return {str(k): v for k, v in counts.items()}


def _outcome(row: ConversationStats, later: list[tuple[int, datetime, list[str]]], now: datetime) -> str | None:
    if row.conversation.state != Conversation.State.CLOSED:
        return None  # reopened: it is judged again when it closes again
    window_end = row.closed_at + RETURN_WINDOW
    for conversation_id, created_at, intents in later:
        if conversation_id == row.conversation_id or not (row.closed_at < created_at <= window_end):
            continue
        if not row.intent or not intents or row.intent in intents:
            return Resolution.RETURNED
    if now >= window_end:
        return Resolution.BOT
    return None


def _later_chats(rows: list[ConversationStats]) -> dict[int, list[tuple[int, datetime, list[str]]]]:
    """Per player: chats with a player message started after the earliest close, with their intents."""
    if not rows:
        return {}
    players = {r.player_id for r in rows}
    since = min(r.closed_at for r in rows)
    until = max(r.closed_at for r in rows) + RETURN_WINDOW
    player_wrote = Message.objects.filter(conversation=OuterRef("pk"), sender=Message.Sender.PLAYER)
    candidates = (
        Conversation.objects.filter(player_id__in=players, created_at__gt=since, created_at__lte=until)
        .filter(Exists(player_wrote))
        .values_list("pk", "player_id", "created_at", "intent")
    )
    candidates = list(candidates)
    known = dict(
        ConversationStats.objects.filter(conversation_id__in=[c[0] for c in candidates]).values_list(
            "conversation_id", "intents"
        )
    )
    by_player: dict[int, list[tuple[int, datetime, list[str]]]] = defaultdict(list)
    for pk, player_id, created_at, intent in candidates:
        intents = list(known.get(pk) or ([intent] if intent else []))
        by_player[player_id].append((pk, created_at, intents))
    return by_player
