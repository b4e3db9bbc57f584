"""What the pipeline learns about a player message is added to its meta, never replacing it.

The meta is merged by the database in the UPDATE itself (csbot/fastsql.py), on
SQLite (the embedded default) and on PostgreSQL (production).
"""

from __future__ import annotations

import json

from agents.services import understanding_save
from chat.models import Conversation, Message
from chat.services import message_append, message_flag_unsafe
from tests import servers

SCRIPT = """
import json
from agents.services import understanding_save
from chat.models import Conversation, Message, Player
from chat.services import message_append, message_flag_unsafe
c = Conversation.objects.create(player=Player.objects.create(display_name="Meta"))
m = message_append(conversation_id=c.pk, sender="player", text="where is my order", meta={"client": "web"})
understanding_save(conversation_id=c.pk, message_id=m.pk, intent="order_status", facts={"server": "S3"},
                   sentiment={"score": -0.4, "level": "upset", "escalate": False})
message_flag_unsafe(message_id=m.pk)
c.refresh_from_db(); m.refresh_from_db()
print(json.dumps({"meta": m.meta, "intent": c.intent, "facts": c.facts, "sentiment": c.sentiment}))
"""

EXPECTED_META = {
    "client": "web",
    "sentiment": {"score": -0.4, "level": "upset", "escalate": False},
    "intent": "order_status",
    "flagged": True,
}


def _saved(conversation, message) -> dict:
    understanding_save(
        conversation_id=conversation.pk,
        message_id=message.pk,
        intent="order_status",
        facts={"server": "S3"},
        sentiment={"score": -0.4, "level": "upset", "escalate": False},
    )
    message_flag_unsafe(message_id=message.pk)
    conversation.refresh_from_db()
    message.refresh_from_db()
    return {"meta": message.meta, "intent": conversation.intent, "facts": conversation.facts}


def test_the_understanding_and_a_flag_are_added_to_what_the_message_already_had(lin):
    conversation = Conversation.objects.create(player=lin)
    message = message_append(
        conversation_id=conversation.pk, sender="player", text="where is my order", meta={"client": "web"}
    )

    saved = _saved(conversation, message)

    assert saved == {"meta": EXPECTED_META, "intent": "order_status", "facts": {"server": "S3"}}
    assert Message.objects.get(pk=message.pk).meta["client"] == "web"


def test_an_unclear_message_keeps_the_conversations_intent(lin):
    conversation = Conversation.objects.create(player=lin, intent="refund")
    message = message_append(conversation_id=conversation.pk, sender="player", text="hmm")

    understanding_save(
        conversation_id=conversation.pk, message_id=message.pk, intent="", facts={}, sentiment={"score": 0.0}
    )

    conversation.refresh_from_db()
    assert conversation.intent == "refund"
    assert Message.objects.get(pk=message.pk).meta["sentiment"] == {"score": 0.0}


def test_the_same_merge_on_postgresql(production_env):
    out = json.loads(servers.manage(production_env, "shell", "-c", SCRIPT).stdout.strip().splitlines()[-1])

    assert out["meta"] == EXPECTED_META
    assert (out["intent"], out["facts"], out["sentiment"]) == ("order_status", {"server": "S3"}, -0.4)
