"""A player's connect path (page, socket connect, resume) through csbot/fastsql.py,
compared field by field with what the ORM reads, for SQLite (in the test process)
and PostgreSQL (in a `manage.py shell` on the production settings).

Values are compared by repr, so a str for a UUID, 1 for True or another time zone
counts as a difference; only a default's choices member (State.BOT, as the ORM's
create leaves it too) counts as its value."""

from __future__ import annotations

import enum
import json
import uuid


def differences(fast, orm) -> list:
    """The fields (with both reprs) where two instances differ, and how they were loaded."""
    if fast is None or orm is None:
        return [] if fast is orm else [["instance", repr(fast), repr(orm)]]
    out = []
    for field in type(orm)._meta.concrete_fields:
        a, b = (_repr(getattr(instance, field.attname)) for instance in (fast, orm))
        if a != b:
            out.append([field.attname, a, b])
    state = (fast._state.adding, fast._state.db, fast.get_deferred_fields())
    if state != (orm._state.adding, orm._state.db, orm.get_deferred_fields()):
        out.append(["_state", repr(state)])
    return out


def _repr(value) -> str:
    return repr(value.value if isinstance(value, enum.Enum) else value)


def all_differences(fast: list, orm: list) -> list:
    if len(fast) != len(orm):
        return [["count", len(fast), len(orm)]]
    return [d for a, b in zip(fast, orm, strict=True) for d in differences(a, b)]


def _players() -> dict:
    from django.utils import timezone

    from chat import services
    from chat.models import Player
    from csbot.fastsql import get_by_pk, update_by_pk

    created = services.player_create_anonymous(language="de")
    game = Player.objects.create(game_player_id=f"g-{uuid.uuid4().hex[:8]}", display_name="Lin 林")
    services.player_seen(player_id=game.pk)
    update_by_pk(Player, created.pk, language="fr")  # the page's language change
    missing = Player.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    return {
        "created": differences(created, Player.objects.get(pk=created.pk)) == [["language", "'de'", "'fr'"]],
        "created_at_set": created.created_at is not None and created.created_at <= timezone.now(),
        "by_pk": [
            differences(get_by_pk(Player, p.pk), Player.objects.filter(pk=p.pk).first()) for p in (created, game)
        ],
        "missing": get_by_pk(Player, missing) is None,
    }


def _conversations() -> dict:
    from chat import services
    from chat.models import Conversation, Player

    player = Player.objects.create(language="zh")
    new = services.conversation_current(player=player)
    again = services.conversation_current(player=player)
    Conversation.objects.create(player=player, facts={"server": "S3", "vip": True, "n": 1.5}, sentiment=-0.25)
    newest = services.conversation_current(player=player)

    def orm() -> Conversation | None:
        open_ = Conversation.objects.filter(player=player, state__in=Conversation.OPEN_STATES)
        return open_.order_by("-created_at").first()

    return {
        "new": differences(new, Conversation.objects.get(pk=new.pk)),
        "new_language": new.language,
        "again_same": again.pk == new.pk,
        "newest": differences(newest, orm()),
        "newest_is_another": newest.pk != new.pk,
    }


def _messages() -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chat import selectors, services
    from chat.frames import message_frame
    from chat.models import Conversation, Message, Player

    conversation = Conversation.objects.create(player=Player.objects.create())
    agent = get_user_model().objects.create_user(username=f"agent-{uuid.uuid4().hex[:8]}")
    asked = services.message_append(
        conversation_id=conversation.pk,
        sender="player",
        text="Où est ma recharge? 订单",
        client_id="c-1",
        meta={"client": "web", "nested": {"list": [1, "二", None, 2.5]}},
    )
    services.internal_event_record(conversation_id=conversation.pk, text="staff only", code="note")
    services.message_append(conversation_id=conversation.pk, sender="agent", text="Hello", author=agent)
    answer, _ = services.bot_message_start(conversation_id=conversation.pk, reply_to_id=asked.pk)
    services.bot_message_finish(
        message_id=answer.pk, text="Sorry", status="failed", error="upstream", meta={"player_error": "x"}
    )
    streaming, _ = services.bot_message_start(conversation_id=conversation.pk, reply_to_id=asked.pk)

    def orm(after_seq: int, include_internal: bool) -> list[Message]:
        qs = Message.objects.filter(conversation_id=conversation.pk, seq__gt=after_seq)
        return list((qs if include_internal else qs.filter(internal=False)).order_by("seq"))

    out: dict = {"after": {}}
    for after_seq, include_internal in [(0, False), (0, True), (1, True), (2, False), (5, True)]:
        fast = selectors.messages_after(
            conversation_id=conversation.pk, after_seq=after_seq, include_internal=include_internal
        )
        expected = orm(after_seq, include_internal)
        out["after"][f"{after_seq}/{include_internal}"] = {
            "seqs": [m.seq for m in fast],
            "differ": all_differences(fast, expected),
            "frames_same": [message_frame(m) for m in fast] == [message_frame(m) for m in expected],
        }
    with CaptureQueriesContext(connection) as queries:
        none = selectors.messages_by_ids(conversation_id=conversation.pk, ids=[])
    out["by_no_ids"] = {"messages": none, "queries": len(queries)}
    out["by_ids"] = sorted(
        m.seq for m in selectors.messages_by_ids(conversation_id=conversation.pk, ids=[answer.pk, streaming.pk])
    )
    return out


def run() -> dict:
    return {"players": _players(), "conversations": _conversations(), "messages": _messages()}


def printed() -> None:
    print(json.dumps(run()))
