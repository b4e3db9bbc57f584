"""Reads of conversations and messages."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from chat.frames import created_text, message_payload
from chat.models import Conversation, Message
from csbot.fastsql import column, select_models, select_sql

# How far back the language of the chat's lines is looked for: a player's latest messages that
# say more than a bare value ("S3"), which keeps the language of the one before.
LANGUAGE_LOOKBACK = 20


def conversation_language(conversation: Conversation) -> str:
    """The language the chat speaks: its answers' (agents/pipeline/context.py), from what the
    player wrote, else the page's the chat began on. A player on the English page who writes
    Chinese reads the bot's answers in Chinese, and so the lines after them ("Alice has
    joined the chat.", the close, its rating card) too."""
    from agents.pipeline.context import answer_language

    written = (
        Message.objects.filter(conversation_id=conversation.pk, sender=Message.Sender.PLAYER)
        .exclude(text="")
        .order_by("-seq")
        .values_list("text", flat=True)[:LANGUAGE_LOOKBACK]
    )
    page = conversation.language or conversation.player.language or settings.LANGUAGE_CODE
    return answer_language(list(reversed(written)), page)


def messages_after(*, conversation_id: int, after_seq: int, include_internal: bool = False) -> list[Message]:
    """Every socket's resume asks: SQL built once (csbot/fastsql.py)."""
    params = [conversation_id, after_seq] if include_internal else [conversation_id, after_seq, False]
    return select_models(Message, _after_sql(connection.vendor, include_internal), params)


@functools.cache
def _after_sql(vendor: str, include_internal: bool) -> str:
    where = f"{column(Message, 'conversation')} = %s AND {column(Message, 'seq')} > %s"
    if not include_internal:
        where += f" AND {column(Message, 'internal')} = %s"
    return f"{select_sql(Message, vendor)} WHERE {where} ORDER BY {column(Message, 'seq')}"


def messages_for_resume(
    *, conversation_id: int, after_seq: int, stream_ids: list[int], include_internal: bool
) -> tuple[list[Message], list[Message]]:
    """A resume's reads in one call (chat/resume.py): the messages after `after_seq`, and
    the answers the client holds part of."""
    missed = messages_after(conversation_id=conversation_id, after_seq=after_seq, include_internal=include_internal)
    return missed, messages_by_ids(conversation_id=conversation_id, ids=stream_ids)


def messages_by_ids(*, conversation_id: int, ids: list[int]) -> list[Message]:
    if not ids:  # a fresh connect's resume streams nothing
        return []
    return list(Message.objects.filter(conversation_id=conversation_id, pk__in=ids, internal=False))


def player_wrote_after(*, conversation_id: int, seq: int) -> bool:
    """Whether the player has sent a message since the message `seq` (they went on)."""
    later = Message.objects.filter(conversation_id=conversation_id, seq__gt=seq, sender=Message.Sender.PLAYER)
    return later.exists()


def orphan_goes_to_staff(*, message_id: int, created_after: datetime) -> bool:
    """Whether the sweep that fails this orphaned answer puts its chat in staff's queue, as
    after any failed answer. Not when the player has asked again meanwhile (on another
    process: the bot is answering them, and a notice that they are queued would be wrong),
    nor when the answer is older than `created_after`, older than any answer can be (a
    leftover the embedded default finds at its start: its player is long gone, and a queue
    of old chats helps nobody). But when the answer held the chat's answer claim (as every answer
    does while it streams, its seq: services._question_seq_sql), the questions asked meanwhile
    started no answer and waited for its job, which died with its process: unless the bot has
    begun one since, staff answer them."""
    answer = (
        Message.objects.filter(pk=message_id)
        .values("conversation_id", "seq", "created_at", "conversation__answer_claim")
        .first()
    )
    if answer is None or answer["created_at"] < created_after:
        return False
    cid, seq = answer["conversation_id"], answer["seq"]
    if not player_wrote_after(conversation_id=cid, seq=seq):
        return True
    bot_went_on = Message.objects.filter(conversation_id=cid, seq__gt=seq, sender=Message.Sender.BOT).exists()
    return answer["conversation__answer_claim"] == seq and not bot_went_on


def conversation_state(*, conversation_id: int) -> str:
    return Conversation.objects.values_list("state", flat=True).get(pk=conversation_id)


# What a player coming back is shown of a chat that closed while they were away: its last
# messages, and back to the moment a person joined when that was earlier (up to a limit).
CLOSED_CHAT_MESSAGES = 20
CLOSED_CHAT_MESSAGES_MAX = 100


def conversation_closed_lately(*, player_id: int) -> dict | None:
    """The player's chat closed within CLOSED_CHAT_SHOWN_SECONDS, as the `welcome` frame's
    `previous` (docs/protocol.md): `{id, closed, rated, messages, language}`; None when there is none.

    Staff may close a chat while the player is away: their next connect opens a new,
    empty one, and without this they would never see the agent's last reply nor be asked
    to rate the chat.
    """
    from analytics.models import CsatRating

    since = timezone.now() - timedelta(seconds=settings.CLOSED_CHAT_SHOWN_SECONDS)
    closed = (
        Conversation.objects.filter(player_id=player_id, state=Conversation.State.CLOSED, closed_at__gte=since)
        .select_related("player")
        .order_by("-closed_at")
        .first()
    )
    if closed is None:
        return None
    conversation_id, closed_at = closed.pk, closed.closed_at
    shown = Message.objects.filter(conversation_id=conversation_id, internal=False)
    joined = (
        shown.filter(sender=Message.Sender.SYSTEM, meta__event="taken_over")
        .order_by("seq")
        .values_list("seq", flat=True)
    ).first()
    newest = list(shown.order_by("-seq")[:CLOSED_CHAT_MESSAGES_MAX])
    oldest_shown = newest[min(len(newest), CLOSED_CHAT_MESSAGES) - 1].seq if newest else 0
    if joined is not None:
        oldest_shown = min(oldest_shown, joined)
    messages = [_closed_payload(m) for m in reversed(newest) if m.seq >= oldest_shown]
    return {
        "id": conversation_id,
        "closed": created_text(closed_at),
        "rated": CsatRating.objects.filter(conversation_id=conversation_id).exists(),
        "messages": messages,
        "language": conversation_language(closed),
    }


def _closed_payload(message: Message) -> dict:
    """A message of a closed chat: what the bot offered under it can no longer be used."""
    payload = message_payload(message)
    payload.pop("quick_replies", None)
    payload.pop("form", None)
    return payload
