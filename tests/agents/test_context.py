"""What the pipeline reads of a conversation before it answers (agents/pipeline/context.py)."""

from __future__ import annotations

import pytest

from agents.pipeline.context import context_for_conversation
from chat.models import Conversation, Message, Player
from chat.services import message_append

pytestmark = pytest.mark.django_db


def say(conversation: Conversation, sender: str, text: str, **meta) -> None:
    message_append(conversation_id=conversation.pk, sender=sender, text=text, status=Message.Status.DONE, meta=meta)


def test_what_the_bot_was_asking_for_is_forgotten_once_a_person_has_spoken():
    """After a takeover and a hand back, "Which item is missing?" is no longer pending."""
    conversation = Conversation.objects.create(player=Player.objects.create(language="en"))
    asking = {"intent": {"name": "lost_items"}, "facts": {"missing": ["item_name"]}}
    say(conversation, Message.Sender.PLAYER, "I lost an item on S3")
    say(conversation, Message.Sender.BOT, "Which item is missing?", **asking)
    before = context_for_conversation(conversation.pk)
    say(conversation, Message.Sender.AGENT, "Hi, Alice here. Let me check.")
    say(conversation, Message.Sender.PLAYER, "what time does the server restart?")
    after = context_for_conversation(conversation.pk)

    assert before.last_bot_meta == asking
    assert after.last_bot_meta == {}
