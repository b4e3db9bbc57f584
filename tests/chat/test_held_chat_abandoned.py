"""A chat held by an agent whose dashboard is gone for good goes back to the queue
(handoff.abandoned_chats_requeue, run by beat: the chat-requeue-abandoned entry)."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.db import close_old_connections
from django.utils import timezone

from chat import handoff, presence
from chat.models import AgentProfile, Conversation, ConversationEvent
from chat.services import message_append
from tests.chat.socket_client import PlayerSocket

pytestmark = pytest.mark.django_db

GRACE = django_settings.HELD_CHAT_ABANDONED_SECONDS


@pytest.fixture
def held_by_alice(lin, alice) -> Conversation:
    """Alice took the chat over from her dashboard."""
    presence.presence_connect(user=alice)
    conversation = Conversation.objects.create(player=lin, language="en")
    message_append(conversation_id=conversation.pk, sender="player", text="my top-up is missing", client_id="c1")
    handoff.conversation_take_over(conversation_id=conversation.pk, agent=alice)
    return conversation


def left(user, seconds_ago: float) -> None:
    """The agent closed their last dashboard this long ago."""
    presence.presence_disconnect(user=user)
    AgentProfile.objects.filter(user=user).update(last_seen=timezone.now() - timedelta(seconds=seconds_ago))


def system_lines(conversation: Conversation) -> list[str]:
    return list(conversation.messages.filter(sender="system").order_by("seq").values_list("text", flat=True))


def test_an_agent_gone_past_the_grace_period_loses_their_chats_to_the_queue(held_by_alice, alice):
    left(alice, GRACE + 5)

    [change] = handoff.abandoned_chats_requeue()

    held_by_alice.refresh_from_db()
    assert (held_by_alice.state, held_by_alice.assignee, held_by_alice.handoff_reason) == (
        "waiting",
        None,
        "agent_left",
    )
    assert held_by_alice.waiting_since is not None
    assert system_lines(held_by_alice)[-1] == (
        "Alice has left the chat. No support agent is online right now. "
        "Leave your message here and you can close this page: "
        "the next agent's reply will be waiting in this chat when you open it again in this browser. "
        "We can't notify you, so please check back later."
    )
    assert (change.state, change.agent_name, change.cancel) == ("waiting", "", False)
    assert change.messages[0].meta["event"] == "requeued"
    # What dashboards show: the row in the queue, why, and the case's history.
    row = change.row["conversation"]
    assert (row["state"], row["assignee"], row["handoff_reason"]) == ("waiting", None, "agent_left")
    assert change.row["queue"] == {"waiting": 1}
    assert change.case["events"][-1]["label"] == "back in the queue" and change.case["events"][-1]["actor"] == "Alice"
    assert handoff.reason_label("agent_left") == "the agent holding it left"
    assert ConversationEvent.objects.filter(kind="requeued", actor=alice, reason="agent_left").count() == 1
    # Nothing more to do next time.
    assert handoff.abandoned_chats_requeue() == []


def test_with_a_colleague_online_the_player_waits_for_them(held_by_alice, alice, bob):
    presence.presence_connect(user=bob)
    left(alice, GRACE + 5)
    handoff.abandoned_chats_requeue()
    assert system_lines(held_by_alice)[-1] == "Alice has left the chat. You are back in the queue for a support agent."


def test_a_player_who_writes_chinese_is_told_in_chinese(held_by_alice, alice):
    message_append(conversation_id=held_by_alice.pk, sender="player", text="人呢？", client_id="c2")
    left(alice, GRACE + 5)
    handoff.abandoned_chats_requeue()
    assert system_lines(held_by_alice)[-1] == (
        "Alice 已离开对话。目前没有在线的人工客服。请在这里留言，留言后可以关闭此页面："
        "客服上线后的回复会保留在这个对话里，用这个浏览器再次打开即可看到。我们无法另行通知您，请稍后回来查看。"
    )


def test_an_agent_back_within_the_grace_period_keeps_their_chats(held_by_alice, alice):
    left(alice, GRACE - 30)  # a reload, a short network drop
    assert handoff.abandoned_chats_requeue() == []

    left(alice, GRACE + 5)
    presence.presence_connect(user=alice)  # back just in time
    assert handoff.abandoned_chats_requeue() == []

    held_by_alice.refresh_from_db()
    assert (held_by_alice.state, held_by_alice.assignee) == ("human", alice)
    assert system_lines(held_by_alice) == ["Alice has joined the chat."]


def test_an_agent_away_with_the_dashboard_open_keeps_their_chats(held_by_alice, alice):
    presence.presence_set_status(user=alice, status="away")
    AgentProfile.objects.filter(user=alice).update(last_seen=timezone.now() - timedelta(seconds=30))
    assert handoff.abandoned_chats_requeue() == []


def test_a_dashboard_that_stopped_pinging_counts_as_gone(held_by_alice, alice):
    # Its process died: the socket count never went down, but nothing was heard for long.
    AgentProfile.objects.filter(user=alice).update(last_seen=timezone.now() - timedelta(seconds=GRACE + 5))
    assert AgentProfile.objects.get(user=alice).sockets == 1
    [change] = handoff.abandoned_chats_requeue()
    assert change.conversation_id == held_by_alice.pk


def test_a_chat_the_holder_closed_meanwhile_is_left_alone(held_by_alice, alice):
    left(alice, GRACE + 5)
    handoff.conversation_close(conversation_id=held_by_alice.pk, actor=alice)
    assert handoff.abandoned_chats_requeue() == []
    assert Conversation.objects.get(pk=held_by_alice.pk).state == "closed"


def test_with_auto_assign_an_online_colleague_takes_it_at_once(settings, held_by_alice, alice, bob):
    settings.AUTO_ASSIGN = True
    presence.presence_connect(user=bob)
    left(alice, GRACE + 5)
    [change] = handoff.abandoned_chats_requeue()
    assert change.then is not None and change.then.agent_name == "Bob"
    assert Conversation.objects.get(pk=held_by_alice.pk).assignee == bob


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_requeue_a_chat_once(held_by_alice, alice):
    left(alice, GRACE + 5)
    barrier = threading.Barrier(2)
    found: list[int] = []

    def sweep() -> None:
        barrier.wait()
        try:
            found.append(len(handoff.abandoned_chats_requeue()))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert sorted(found) == [0, 1]
    assert ConversationEvent.objects.filter(kind="requeued").count() == 1
    assert len(system_lines(held_by_alice)) == 2  # joined, then left: once


def test_beat_runs_the_sweep_often_enough_for_the_grace_period():
    entry = django_settings.CELERY_BEAT_SCHEDULE["chat-requeue-abandoned"]
    assert entry["task"] == "chat.tasks.requeue_abandoned_chats"
    assert entry["schedule"] < django_settings.HELD_CHAT_ABANDONED_SECONDS
    assert entry["options"]["expires"] < entry["schedule"]


@pytest.mark.django_db(transaction=True)
async def test_on_the_embedded_default_the_player_sees_they_are_back_in_the_queue(lin, alice):
    """The web process runs the beat entry itself (csbot/embedded_beat.py); the player's socket hears it."""
    from csbot import embedded_beat

    player = PlayerSocket(lin.pk)
    cid = (await player.connect())["conversation"]["id"]
    await sync_to_async(presence.presence_connect)(user=alice)
    await sync_to_async(handoff.conversation_take_over)(conversation_id=cid, agent=alice)
    await sync_to_async(left)(alice, GRACE + 5)

    entry = django_settings.CELERY_BEAT_SCHEDULE["chat-requeue-abandoned"]
    beat = asyncio.create_task(embedded_beat.run_forever({"chat-requeue-abandoned": {**entry, "schedule": 0.05}}))
    try:
        frames = await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    finally:
        beat.cancel()
        await player.close()

    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "requeued"
    assert frames[-1]["message"]["text"].startswith("Alice has left the chat.")
    assert frames[-1]["message"]["no_agent"] is True  # nobody else online: the page invites a message
