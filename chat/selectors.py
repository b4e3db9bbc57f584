"""Reads of conversations and messages."""

from __future__ import annotations

from chat.models import Conversation, Message


def messages_after(*, conversation_id: int, after_seq: int, include_internal: bool = False) -> list[Message]:
    qs = Message.objects.filter(conversation_id=conversation_id, seq__gt=after_seq)
    if not include_internal:
        qs = qs.filter(internal=False)
    return list(qs.order_by("seq"))


def messages_by_ids(*, conversation_id: int, ids: list[int]) -> list[Message]:
    return list(Message.objects.filter(conversation_id=conversation_id, pk__in=ids, internal=False))


def conversation_state(*, conversation_id: int) -> str:
    return Conversation.objects.values_list("state", flat=True).get(pk=conversation_id)
