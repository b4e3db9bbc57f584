"""What a row of the dashboard's list tells an agent who holds several chats at once."""

from __future__ import annotations

import pytest

from chat.models import Conversation, Message
from chat.staff_selectors import conversation_list, conversation_summary


def held_by(agent, player) -> Conversation:
    return Conversation.objects.create(player=player, state=Conversation.State.HUMAN, assignee=agent)


def write(chat: Conversation, sender: str, text: str, *, internal: bool = False) -> Message:
    chat.last_seq += 1
    chat.save(update_fields=["last_seq"])
    return Message.objects.create(conversation=chat, seq=chat.last_seq, sender=sender, text=text, internal=internal)


@pytest.mark.django_db
def test_a_held_chat_whose_player_wrote_last_awaits_a_reply_since_their_first_unanswered_line(alice, lin):
    chat = held_by(alice, lin)
    write(chat, "player", "转人工")
    write(chat, "agent", "您好，我是 Alice")
    first = write(chat, "player", "我的充值没到账")
    write(chat, "player", "订单号 88889999")

    assert conversation_summary(chat.pk)["reply_awaited_since"] == first.created_at.isoformat()


@pytest.mark.django_db
def test_a_note_answers_nobody_but_a_reply_does(alice, lin):
    chat = held_by(alice, lin)
    asked = write(chat, "player", "Are you still there?")
    write(chat, "agent", "VIP, check the ledger", internal=True)
    assert conversation_summary(chat.pk)["reply_awaited_since"] == asked.created_at.isoformat()

    write(chat, "agent", "Yes, checking your order now.")
    assert conversation_summary(chat.pk)["reply_awaited_since"] is None


@pytest.mark.django_db
def test_only_a_chat_a_person_holds_awaits_their_reply(alice, lin, kai):
    with_the_bot = Conversation.objects.create(player=lin)
    write(with_the_bot, "player", "How do I get a refund?")  # the bot answers it
    queued = Conversation.objects.create(player=kai, state=Conversation.State.WAITING)
    write(queued, "player", "I want a human")  # the queue's own clock says how long

    rows = {row["id"]: row for row in conversation_list(user=alice, filter="open")}
    assert rows[with_the_bot.pk]["reply_awaited_since"] is None
    assert rows[queued.pk]["reply_awaited_since"] is None
