"""Reads of conversations and messages."""

from __future__ import annotations

import functools

from django.db import connection

from chat.models import Conversation, Message
from csbot.fastsql import column, select_models, select_sql


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


def conversation_state(*, conversation_id: int) -> str:
    return Conversation.objects.values_list("state", flat=True).get(pk=conversation_id)
