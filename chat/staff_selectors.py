"""Reads for staff: the dashboard's list, a conversation's case, exports.

Every function is synchronous (ORM); async callers wrap them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from agents.sentiment import level_of
from chat.models import Conversation, ConversationEvent, Message, Player
from chat.previews import plain_preview
from chat.roles import display_name
from chat.selectors import conversation_language
from csbot.spreadsheet_csv import SpreadsheetWriter

FILTERS = ("waiting", "bot", "mine", "open", "closed")
LIST_LIMIT = 100
PREVIEW_CHARS = 120


def _filter_q(name: str, user) -> Q:
    State = Conversation.State
    return {
        "waiting": Q(state=State.WAITING),
        "bot": Q(state=State.BOT, last_seq__gt=0),
        "mine": Q(state=State.HUMAN, assignee=user),
        "open": Q(state__in=Conversation.OPEN_STATES, last_seq__gt=0),
        "closed": Q(state=State.CLOSED),
    }[name]


def _order(name: str) -> list[str]:
    if name == "waiting":
        return ["waiting_since", "pk"]
    if name == "closed":
        return ["-closed_at", "-pk"]
    return ["-updated_at", "-pk"]


def _search_q(text: str) -> Q:
    text = text.strip()
    found = Q(player__game_player_id__icontains=text) | Q(player__display_name__icontains=text)
    if text.lstrip("#").isdigit():
        found |= Q(pk=int(text.lstrip("#")))
    found |= _label_q(text)
    if len(text) >= 4:
        found |= Q(player__public_id__istartswith=text)
    return found | Q(Exists(Message.objects.filter(conversation=OuterRef("pk"), text__icontains=text)))


def _label_q(text: str) -> Q:
    """The player as the list shows them (`Player.label`): "#<game id>", or "visitor-" and
    the start of their public id. Staff search for what they read."""
    if text.startswith("#") and len(text) > 1:
        return Q(player__game_player_id__iexact=text[1:])
    prefix = Player.VISITOR_PREFIX
    if text.lower().startswith(prefix) and len(text) > len(prefix):
        return Q(player__public_id__istartswith=text[len(prefix) :])
    return Q(pk__in=[])


def _with_last_message(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    # An answer still streaming has no text worth a preview yet; system lines say what the state says.
    newest = (
        Message.objects.filter(conversation=OuterRef("pk"))
        .exclude(status=Message.Status.STREAMING)
        .exclude(sender=Message.Sender.SYSTEM)
        .order_by("-seq")
        .values("pk")[:1]
    )
    return (
        qs.select_related("player", "assignee")
        .annotate(last_message_id=Subquery(newest))
        .annotate(model_busy=_model_busy())
        .annotate(reply_awaited_since=_reply_awaited_since())
    )


def _model_busy() -> Exists:
    """An answer of the chat waits out the LLM's rate limit, still without text
    (services.bot_message_model_busy): the row says why the bot is silent."""
    return Exists(
        Message.objects.filter(conversation=OuterRef("pk"), status=Message.Status.STREAMING, meta__model_busy=True)
    )


def _reply_awaited_since() -> Case:
    """When the player of a held chat first wrote what nobody has answered yet (null when
    the last word is the bot's or an agent's): an agent holding several chats sees which
    players wait for them, and since when. A note is not an answer."""
    answered = (
        Message.objects.filter(
            conversation=OuterRef(OuterRef("pk")),
            sender__in=(Message.Sender.BOT, Message.Sender.AGENT),
            internal=False,
        )
        .order_by("-seq")
        .values("seq")[:1]
    )
    unanswered = (
        Message.objects.filter(
            conversation=OuterRef("pk"), sender=Message.Sender.PLAYER, seq__gt=Coalesce(Subquery(answered), 0)
        )
        .order_by("seq")
        .values("created_at")[:1]
    )
    return Case(When(state=Conversation.State.HUMAN, then=Subquery(unanswered)), default=None)


def _summaries(conversations: list[Conversation]) -> list[dict[str, Any]]:
    ids = [c.last_message_id for c in conversations if getattr(c, "last_message_id", None)]
    last = Message.objects.only("sender", "text", "internal", "created_at", "meta").in_bulk(ids)
    return [summary_of(c, last.get(getattr(c, "last_message_id", None))) for c in conversations]


def summary_of(conversation: Conversation, last: Message | None) -> dict[str, Any]:
    """One row of the dashboard's list (docs/protocol.md, Staff socket)."""
    player = conversation.player
    awaited = getattr(conversation, "reply_awaited_since", None)
    return {
        "id": conversation.pk,
        "state": conversation.state,
        "player": {"id": str(player.public_id), "game_id": player.game_player_id or "", "name": player.label},
        "assignee": {"id": conversation.assignee_id, "name": display_name(conversation.assignee)}
        if conversation.assignee_id
        else None,
        "handoff_reason": conversation.handoff_reason,
        "waiting_since": conversation.waiting_since.isoformat() if conversation.waiting_since else None,
        "reply_awaited_since": awaited.isoformat() if awaited else None,
        "updated": conversation.updated_at.isoformat(),
        "created": conversation.created_at.isoformat(),
        "intent": conversation.intent,
        "sentiment": conversation.sentiment,
        "messages": conversation.last_seq,
        "model_busy": bool(getattr(conversation, "model_busy", False)),
        "last_message": {
            "sender": last.sender,
            "text": plain_preview(last.text, PREVIEW_CHARS),
            "internal": last.internal,
            "created": last.created_at.isoformat(),
        }
        if last
        else None,
    }


def conversation_list(*, user, filter: str = "open", q: str = "", limit: int = LIST_LIMIT) -> list[dict[str, Any]]:
    qs = Conversation.objects.filter(_filter_q(filter, user))
    if q.strip():
        qs = qs.filter(_search_q(q))
    return _summaries(list(_with_last_message(qs).order_by(*_order(filter))[:limit]))


def search_found_elsewhere(*, user, filter: str, q: str) -> dict[str, int]:
    """For a search that found nothing under `filter`: how many chats it finds among the open
    ones and among the closed ones (not `filter`'s own), none counted as 0 left out. An agent
    who looked up an order number under "All open" read "No conversations here." about a chat
    closed an hour before."""
    found = {}
    for other in ("open", "closed"):
        if other != filter:
            count = Conversation.objects.filter(_filter_q(other, user)).filter(_search_q(q)).count()
            if count:
                found[other] = count
    return found


def conversation_summary(conversation_id: int) -> dict[str, Any]:
    return _summaries([_with_last_message(Conversation.objects.filter(pk=conversation_id)).get()])[0]


def _waiting_count() -> int:
    return Conversation.objects.filter(state=Conversation.State.WAITING).count()


def row_frame(conversation_id: int) -> dict[str, Any]:
    """The `conversation` frame every dashboard gets at once after a handoff."""
    return {
        "type": "conversation",
        "conversation": conversation_summary(conversation_id),
        "queue": {"waiting": _waiting_count()},
    }


def rows_frame(conversation_ids: Iterable[int]) -> dict[str, Any]:
    """The `conversations` frame: the rows of the chats that changed since the last one.

    Three queries whatever the number of chats: the conversations, their last
    messages, the queue size. A chat that no longer exists is left out.
    """
    ids = list(dict.fromkeys(conversation_ids))
    found = {c.pk: c for c in _with_last_message(Conversation.objects.filter(pk__in=ids))}
    return {
        "type": "conversations",
        "conversations": _summaries([found[pk] for pk in ids if pk in found]),
        "queue": {"waiting": _waiting_count()},
    }


def queue_counts(*, user) -> dict[str, int]:
    State = Conversation.State
    return {
        "waiting": Conversation.objects.filter(state=State.WAITING).count(),
        "mine": Conversation.objects.filter(state=State.HUMAN, assignee=user).count(),
    }


def my_chats(*, user) -> dict[str, list[int]]:
    """The chats `user` holds (`mine`), and those of them whose player waits for her reply
    (`awaiting`), whatever the list shows. Rows go to every dashboard alike, so each keeps its
    own "Mine" counts from these and the rows that follow (a row cannot carry them)."""
    held = list(
        Conversation.objects.filter(_filter_q("mine", user))
        .annotate(reply_awaited_since=_reply_awaited_since())
        .values_list("pk", "reply_awaited_since")
    )
    return {"mine": [pk for pk, _since in held], "awaiting": [pk for pk, since in held if since]}


def _sources_used(conversation_id: int) -> list[dict[str, Any]]:
    """The knowledge the bot cited in this conversation, most used first."""
    used: dict[str, dict[str, Any]] = {}
    metas = Message.objects.filter(conversation_id=conversation_id, sender=Message.Sender.BOT).values_list(
        "meta", flat=True
    )
    for meta in metas:
        for source in (meta or {}).get("sources") or []:
            key = source.get("source_id") or source.get("title") or ""
            entry = used.setdefault(key, {"source_id": key, "title": source.get("title") or key, "uses": 0})
            entry["uses"] += 1
    return sorted(used.values(), key=lambda s: -s["uses"])


def event_payload(event: ConversationEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "label": str(ConversationEvent.Kind(event.kind).label),
        "actor": display_name(event.actor) if event.actor_id else None,
        "reason": event.reason,
        "data": event.data,
        "at": event.created_at.isoformat(),
    }


# How far back the case looks for a mood worse than the latest: about a short exchange.
MOOD_MESSAGES = 5
_LEVEL_RANK = {"calm": 0, "upset": 1, "angry": 2}


def _player_sentiment(conversation: Conversation) -> tuple[float | None, str | None, str | None]:
    """The player's latest score, the level the bot read it as (calm, upset, angry), and the
    worst level among their MOOD_MESSAGES messages before it when that is worse (else None).

    A player who swore and then wrote "S3" showed as "calm (0.00)": the agent needs to know
    they were angry a moment ago. The level is the one stored with the message: angry depends
    on the words, not the score alone (agents/sentiment.py). A message stored before levels
    were gets one by its score."""
    metas = Message.objects.filter(conversation=conversation, sender=Message.Sender.PLAYER).order_by("-seq")
    read: list[tuple[float, str]] = []
    for meta in metas.values_list("meta", flat=True)[: MOOD_MESSAGES + 1]:
        score = sentiment_score(meta)
        if score is not None:
            stored = (meta or {}).get("sentiment")
            level = stored.get("level") if isinstance(stored, dict) else None
            read.append((score, level if level in _LEVEL_RANK else level_of(score, needs_staff=False)))
    if read:
        (score, level), earlier = read[0], [level for _score, level in read[1:]]
        worst = max(earlier, key=_LEVEL_RANK.__getitem__, default=level)
        return score, level, worst if _LEVEL_RANK[worst] > _LEVEL_RANK[level] else None
    if conversation.sentiment is not None:
        return conversation.sentiment, level_of(conversation.sentiment, needs_staff=False), None
    return None, None, None


def sentiment_score(meta: dict | None) -> float | None:
    """Message.meta["sentiment"]: a number in [-1, 1], or {"score": n} (docs/metrics.md)."""
    value = (meta or {}).get("sentiment")
    if isinstance(value, dict):
        value = value.get("score")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _names_in_words(conversation: Conversation) -> dict[str, Any]:
    """The case's intent and fact names as the admin words them, in every language of the
    site: the case goes to each dashboard watching, whatever its language, and the words
    can change in the admin at any time, so they come with the case, not with the page."""
    from agents.models import Intent
    from chat.admin_words import fact_labels

    def words(named) -> dict[str, str]:
        return {code: named.label(code) for code, _name in settings.LANGUAGES}

    intent = Intent.objects.filter(name=conversation.intent).first() if conversation.intent else None
    names = list(conversation.facts or {})
    in_each = {code: fact_labels(names, code) for code, _name in settings.LANGUAGES}
    named = [name for name in names if all(name in labels for labels in in_each.values())]
    facts = {name: {code: labels[name] for code, labels in in_each.items()} for name in named}
    return {"intent": words(intent) if intent else None, "facts": facts}


def case_of(conversation_id: int) -> dict[str, Any]:
    """Everything the case panel shows beside the history."""
    conversation = _with_last_message(Conversation.objects.filter(pk=conversation_id)).get()
    case = _summaries([conversation])[0]
    player = conversation.player
    events = ConversationEvent.objects.filter(conversation_id=conversation_id).select_related("actor")
    sentiment, sentiment_level, sentiment_earlier = _player_sentiment(conversation)
    case.update(
        {
            "player": {
                **case["player"],
                # The chat's, which the bot answers in (what the player writes, else the page's):
                # the page's alone said "English" of a player writing Chinese, and agents
                # answered them in English.
                "language": conversation_language(conversation),
                "since": player.created_at.isoformat(),
                "last_seen": player.last_seen_at.isoformat() if player.last_seen_at else None,
                "conversations": player.conversations.count(),
            },
            "facts": conversation.facts,
            "labels": _names_in_words(conversation),
            "sentiment": sentiment,
            "sentiment_level": sentiment_level,
            "sentiment_earlier": sentiment_earlier,
            "sources": _sources_used(conversation_id),
            "events": [event_payload(e) for e in events],
            "closed": conversation.closed_at.isoformat() if conversation.closed_at else None,
        }
    )
    return case


# --- Export (managers) ----------------------------------------------------------

EXPORT_FIELDS = ["conversation", "seq", "created", "sender", "name", "internal", "status", "text"]


def conversation_export(conversation: Conversation) -> dict[str, Any]:
    """The whole conversation as plain data: the case, every message, the audit trail."""
    messages = Message.objects.filter(conversation=conversation).select_related("author").order_by("seq")
    return {
        **case_of(conversation.pk),
        "messages": [
            {
                "seq": m.seq,
                "created": m.created_at.isoformat(),
                "sender": m.sender,
                "name": m.meta.get("name") or (display_name(m.author) if m.author_id else ""),
                "internal": m.internal,
                "status": m.status,
                "text": m.text,
                "sources": m.meta.get("sources") or [],
            }
            for m in messages
        ],
    }


def conversations_csv(conversations: QuerySet[Conversation]) -> str:
    out = io.StringIO()
    writer = SpreadsheetWriter(out)  # the players' messages, as they typed them
    writer.writerow(EXPORT_FIELDS)
    messages = Message.objects.filter(conversation__in=conversations).select_related("author")
    for m in messages.order_by("conversation_id", "seq"):
        name = m.meta.get("name") or (display_name(m.author) if m.author_id else "")
        row = [m.conversation_id, m.seq, m.created_at.isoformat(), m.sender, name, m.internal, m.status, m.text]
        writer.writerow(row)
    return out.getvalue()
