"""Staff and player sockets together, in one process on the embedded default.

The LLM is the fake ERNIE server streaming slowly, over real HTTP, so that a
takeover lands in the middle of an answer.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from chat.models import Conversation, ConversationEvent, Message
from tests.chat.socket_client import PlayerSocket, answer_text
from tests.chat.staff_client import StaffSocket
from tests.fake_ernie_fixtures import use_fake_ernie

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "充值没到账怎么办"
CHUNKS = [f"第{i}句：充值未到账时请先确认订单状态。" for i in range(1, 41)]  # 40 chunks, 0.2 s apart
CANCEL_BUDGET_S = 0.200  # the requirement: the answer stops within 200 ms of the takeover


@pytest.fixture
def slow_ernie(settings, fake_ernie_thread, demo_kb):
    fake_ernie_thread.configure(reply=CHUNKS, delay=0.2)
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1
    return fake_ernie_thread


def is_end(frame: dict) -> bool:
    return frame["type"] == "end"


def is_system(frame: dict) -> bool:
    return frame["type"] == "message" and frame["message"]["sender"] == "system"


def bot_id(frames: list[dict]) -> int:
    return next(f["message"]["id"] for f in frames if f["type"] == "message" and f["message"]["sender"] == "bot")


async def player_chatting(player) -> tuple[PlayerSocket, int]:
    sock = PlayerSocket(player.pk)
    welcome = await sock.connect()
    return sock, welcome["conversation"]["id"]


async def test_a_watching_agent_sees_the_answer_grow_delta_by_delta_like_the_player(lin, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say("How do I get a refund?")
    first = await player.receive_until(lambda f: f["type"] == "delta")
    history = await agent.watch(cid)  # joins mid-answer

    case = next(f for f in history if f["type"] == "case")["conversation"]
    assert case["id"] == cid and case["player"]["name"] == "Lin" and case["state"] == "bot"
    rest = await player.receive_until(is_end)
    seen = history + await agent.collect_until(is_end)
    await player.close()
    await agent.close()

    answer = bot_id(first)
    stored = await sync_to_async(Message.objects.get)(pk=answer)
    assert answer_text(first + rest, answer) == stored.text
    assert answer_text(seen, answer) == stored.text
    assert sum(f["type"] == "delta" for f in seen) > 1  # it grew on the agent's screen too
    assert seen[-1]["sources"]


async def test_a_takeover_stops_the_answer_within_200_ms_and_keeps_its_partial_text(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await player.say(QUESTION)
    before = await player.receive_until(lambda f: f["type"] == "delta" and f["o"] > 0)

    started = time.perf_counter()
    await agent.send({"type": "take_over", "conversation_id": cid})
    after = await player.receive_until(is_end)
    latency = time.perf_counter() - started
    if not any(is_system(f) for f in after):
        after += await player.receive_until(is_system)
    ok = await agent.receive_until(lambda f: f["type"] in ("ok", "error"))
    await player.close()
    await agent.close()

    print(f"\ncancel latency (one process): {latency * 1000:.1f} ms")
    assert after[-1]["status"] == "interrupted"
    assert latency < CANCEL_BUDGET_S, f"the answer stopped {latency * 1000:.0f} ms after the takeover"
    answer = bot_id(before)
    shown = answer_text(before + after, answer)
    stored = await sync_to_async(Message.objects.get)(pk=answer)
    assert stored.status == "interrupted" and stored.text == shown
    assert 0 < len(shown) < len("".join(CHUNKS))
    assert {"type": "state", "state": "human", "agent": {"name": "Alice"}} in after
    assert next(f for f in after if is_system(f))["message"]["text"] == "Alice has joined the chat."
    assert ok == {"type": "ok", "action": "take_over", "conversation_id": cid}


async def test_while_a_human_holds_the_chat_no_request_reaches_the_llm(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f["type"] == "ok")

    await player.say("你好，有人吗？")
    await player.say(QUESTION)
    got = await agent.receive_until(lambda f: f["type"] == "message" and f["message"]["text"] == QUESTION)
    await asyncio.sleep(0.5)
    await player.close()
    await agent.close()

    assert got["message"]["sender"] == "player"
    assert slow_ernie.requests == []
    assert not await sync_to_async(Message.objects.filter(sender="bot").exists)()


async def test_agent_and_player_see_each_others_messages_and_typing(lin, alice, demo_kb):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f["type"] == "ok")

    await agent.send({"type": "typing", "conversation_id": cid})
    typing = (await player.receive_until(lambda f: f["type"] == "typing"))[-1]
    client_id = await agent.say(cid, "Hi Lin, I'm looking at your top-up now.")
    ack = await agent.receive_until(lambda f: f["type"] == "ack")
    to_player = (await player.receive_until(lambda f: f["type"] == "message" and f["message"]["sender"] == "agent"))[-1]

    await player.send({"type": "typing"})
    player_typing = await agent.receive_until(lambda f: f["type"] == "typing" and f["who"] == "player")
    await player.say("Thank you! Order 2024-1188.")
    to_agent = await agent.receive_until(lambda f: f["type"] == "message" and f["message"]["sender"] == "player")
    await player.close()
    await agent.close()

    assert typing == {"type": "typing", "who": "agent", "name": "Alice", "agent_id": alice.pk, "conversation_id": cid}
    assert ack["client_id"] == client_id and ack["duplicate"] is False
    assert to_player["message"]["text"] == "Hi Lin, I'm looking at your top-up now."
    assert to_player["message"]["name"] == "Alice"
    assert player_typing == {"type": "typing", "who": "player", "conversation_id": cid}
    assert to_agent["message"]["text"] == "Thank you! Order 2024-1188."


async def test_an_agent_who_does_not_hold_the_chat_cannot_write_to_the_player(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    holder, other = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await holder.connect()
    await other.connect()
    await holder.send({"type": "take_over", "conversation_id": cid})
    await holder.receive_until(lambda f: f["type"] == "ok")
    await other.say(cid, "hello from Bob")
    refused = await other.receive_until(lambda f: f["type"] == "error")
    await player.close()
    await holder.close()
    await other.close()

    assert refused["code"] == "not_holder" and refused["action"] == "send"
    assert not await sync_to_async(Message.objects.filter(sender="agent").exists)()


async def test_the_agent_who_clicks_second_is_told_who_has_the_chat(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    first, second = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await first.connect()
    await second.connect()
    await asyncio.gather(
        first.send({"type": "take_over", "conversation_id": cid}),
        second.send({"type": "take_over", "conversation_id": cid}),
    )
    answers = await asyncio.gather(
        first.receive_until(lambda f: f["type"] in ("ok", "error")),
        second.receive_until(lambda f: f["type"] in ("ok", "error")),
    )
    await player.close()
    await first.close()
    await second.close()

    assert sorted(a["type"] for a in answers) == ["error", "ok"]
    refused = next(a for a in answers if a["type"] == "error")
    winner = "Alice" if answers[0]["type"] == "ok" else "Bob"
    assert refused["code"] == "already_taken"
    assert refused["holder"]["name"] == winner
    assert refused["message"] == f"{winner} has this chat already."


async def test_after_a_hand_back_the_bot_answers_again(lin, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f["type"] == "ok")
    await agent.send({"type": "hand_back", "conversation_id": cid})
    await agent.receive_until(lambda f: f["type"] == "ok")
    handed = (await player.receive_until(lambda f: f["type"] == "state" and f["state"] == "bot"))[-1]
    await player.say("How do I get a refund?")
    frames = await player.receive_until(is_end)
    await player.close()
    await agent.close()

    assert handed == {"type": "state", "state": "bot"}
    assert frames[-1]["status"] == "done"
    kinds = await sync_to_async(list)(ConversationEvent.objects.values_list("kind", flat=True))
    assert kinds == ["taken_over", "handed_back"]


async def test_closing_stops_the_answer_and_the_next_message_opens_a_new_chat(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say(QUESTION)
    await player.receive_until(lambda f: f["type"] == "delta")
    await agent.send({"type": "close", "conversation_id": cid})
    stopped = await player.receive_until(is_end)
    if not any(f["type"] == "state" for f in stopped):
        stopped += await player.receive_until(lambda f: f["type"] == "state")
    closed = next(f for f in stopped if f["type"] == "state")
    await player.say("one more thing")
    welcome = (await player.receive_until(lambda f: f["type"] == "welcome"))[-1]
    await player.close()
    await agent.close()

    assert stopped[-1]["status"] == "interrupted"
    assert closed["state"] == "closed"
    assert welcome["conversation"]["id"] != cid


async def test_the_handoff_button_queues_the_chat_and_dashboards_see_it(lin, alice, slow_ernie):
    agent = await StaffSocket.of(alice)
    await agent.connect()
    player, cid = await player_chatting(lin)
    await player.send({"type": "handoff"})
    frames = await player.receive_until(lambda f: f["type"] == "message" and f["message"]["sender"] == "system")
    row = await agent.receive_until(lambda f: f["type"] == "conversation" and f["conversation"]["state"] == "waiting")
    await agent.send({"type": "list", "filter": "waiting"})
    listed = await agent.receive_until(lambda f: f["type"] == "list")
    await player.close()
    await agent.close()

    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "waiting"  # Alice is online
    assert row["conversation"]["id"] == cid and row["conversation"]["handoff_reason"] == "player_request"
    assert row["conversation"]["waiting_since"] and row["queue"] == {"waiting": 1}
    assert [c["id"] for c in listed["conversations"]] == [cid] and listed["counts"]["waiting"] == 1
    assert slow_ernie.requests == []


@pytest.mark.parametrize("words", ["转人工", "I want a human"])
async def test_asking_for_a_human_in_words_skips_the_llm(lin, slow_ernie, words):
    player, cid = await player_chatting(lin)
    await player.say(words)
    frames = await player.receive_until(lambda f: f["type"] == "message" and f["message"]["sender"] == "system")
    await asyncio.sleep(0.3)
    await player.close()

    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "no_agent"  # nobody is online
    assert slow_ernie.requests == []
    conversation = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "player_request")


async def test_the_bot_hands_over_when_the_upstream_fails(lin, settings, fake_ernie_thread, demo_kb):
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1
    fake_ernie_thread.script("error_object", error_code=336100)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    failed = await player.receive_until(is_end)
    after = await player.receive_until(lambda f: f["type"] == "message" and f["message"]["sender"] == "system")
    await player.close()

    assert failed[-1]["status"] == "failed"
    assert {"type": "state", "state": "waiting"} in after
    conversation = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert conversation.handoff_reason == "upstream_error"


async def test_the_bot_hands_over_after_saying_it_does_not_know_twice(lin, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    settings.ESCALATE_AFTER_DONT_KNOW = 2
    player, cid = await player_chatting(lin)
    await player.say("What is the airspeed velocity of an unladen swallow?")
    first = await player.receive_until(is_end)
    await player.say("Which planet has the most moons in our solar system?")
    second = await player.receive_until(is_end)
    after = await player.receive_until(lambda f: f["type"] == "state")
    await player.close()

    assert first[-1]["sources"] == [] and second[-1]["sources"] == []
    assert after[-1] == {"type": "state", "state": "waiting"}
    conversation = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert conversation.handoff_reason == "dont_know"


async def test_internal_notes_reach_staff_only(lin, alice, demo_kb):
    player, cid = await player_chatting(lin)
    agent, colleague = await StaffSocket.of(alice), await StaffSocket.of(alice)
    await agent.connect()
    await colleague.connect()
    await colleague.watch(cid)
    await agent.send(
        {"type": "note", "conversation_id": cid, "text": "VIP player, check the ledger", "client_id": "n1"}
    )
    ack = await agent.receive_until(lambda f: f["type"] == "ack")
    seen = await colleague.receive_until(lambda f: f["type"] == "message")
    await player.send({"type": "resume", "after_seq": 0, "streams": {}})
    resumed = await player.receive_until(lambda f: f["type"] == "resumed")
    await player.send({"type": "ping"})
    pong = await player.receive()
    await player.close()
    await agent.close()
    await colleague.close()

    assert ack["client_id"] == "n1"
    assert seen["message"]["internal"] is True and seen["message"]["name"] == "Alice"
    assert not [f for f in resumed if f["type"] == "message"]
    assert pong == {"type": "pong"}  # nothing else was queued for the player


async def test_a_dashboard_list_follows_new_chats_and_messages_live(lin, kai, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    agent = await StaffSocket.of(alice)
    hello = await agent.connect()
    await agent.send({"type": "list", "filter": "open"})
    empty = await agent.receive_until(lambda f: f["type"] == "list")
    player, cid = await player_chatting(kai)
    await player.say("How do I get a refund?")
    new_chat = await agent.receive_until(lambda f: f["type"] == "conversation")
    answered = await agent.receive_until(
        lambda f: f["type"] == "conversation" and (f["conversation"]["last_message"] or {}).get("sender") == "bot"
    )
    await agent.send({"type": "list", "filter": "open", "q": "refund"})
    found = await agent.receive_until(lambda f: f["type"] == "list")
    await agent.send({"type": "list", "filter": "open", "q": "10010"})
    by_id = await agent.receive_until(lambda f: f["type"] == "list")
    await agent.send({"type": "list", "filter": "open", "q": "nothing like this"})
    nothing = await agent.receive_until(lambda f: f["type"] == "list")
    await player.close()
    await agent.close()

    assert hello["me"]["name"] == "Alice" and hello["me"]["roles"] == ["agent"]
    assert any(a["name"] == "Alice" and a["online"] for a in hello["agents"])
    assert empty["conversations"] == []
    assert new_chat["conversation"]["id"] == cid
    assert new_chat["conversation"]["last_message"]["text"] == "How do I get a refund?"
    assert answered["conversation"]["messages"] == 2
    assert [c["id"] for c in found["conversations"]] == [cid]
    assert [c["id"] for c in by_id["conversations"]] == [cid]
    assert nothing["conversations"] == []


async def test_analytics_alerts_are_relayed_to_dashboards(alice, db):
    from channels.layers import get_channel_layer

    agent = await StaffSocket.of(alice)
    await agent.connect()
    frame = '{"type":"alert","event":"raised","alert":{"id":7,"state":"active","description":"Long queue"}}'
    await get_channel_layer().group_send("staff.alerts", {"type": "relay", "frame": frame})
    alert = await agent.receive_until(lambda f: f["type"] == "alert")
    await agent.close()
    assert alert["alert"]["description"] == "Long queue"


async def test_a_dashboard_that_connects_gets_the_alerts_already_active(alice, db):
    from analytics.models import Alert

    await sync_to_async(Alert.objects.create)(
        kind=Alert.Kind.QUEUE_WAIT, description="Long queue: 3 players are waiting", value=900, threshold=600
    )
    agent = await StaffSocket.of(alice)
    await agent.connect()
    alert = await agent.receive_until(lambda f: f["type"] == "alert")
    await agent.close()
    assert alert["event"] == "raised" and alert["alert"]["description"] == "Long queue: 3 players are waiting"


async def test_a_transfer_hands_the_chat_to_a_colleague_and_the_player_sees_who(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    first, second = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await first.connect()
    await second.connect()
    await first.send({"type": "take_over", "conversation_id": cid})
    await first.receive_until(lambda f: f["type"] == "ok")
    await first.send({"type": "transfer", "conversation_id": cid, "to": bob.pk})
    await first.receive_until(lambda f: f["type"] == "ok")
    row = await second.receive_until(
        lambda f: f["type"] == "conversation" and (f["conversation"]["assignee"] or {}).get("name") == "Bob"
    )
    joined = await player.receive_until(lambda f: is_system(f) and "Bob" in f["message"]["text"])
    await second.say(cid, "Bob here, I'll take it from now.")
    ack = await second.receive_until(lambda f: f["type"] in ("ack", "error"))
    await first.say(cid, "Alice again")
    refused = await first.receive_until(lambda f: f["type"] == "error")
    await player.close()
    await first.close()
    await second.close()

    assert row["conversation"]["state"] == "human"
    assert joined[-1]["message"]["text"] == "Bob has joined the chat."
    assert {"type": "state", "state": "human", "agent": {"name": "Bob"}} in joined
    assert ack["type"] == "ack"
    assert refused["code"] == "not_holder"
    events = await sync_to_async(list)(ConversationEvent.objects.values_list("kind", "actor__username", "data"))
    assert events[-1] == ("transferred", "alice", {"from": alice.pk, "to": bob.pk, "to_name": "Bob"})


async def test_staff_see_when_the_players_connection_drops_and_comes_back(lin, alice):
    player = PlayerSocket(lin.pk)
    conversation_id = (await player.connect())["conversation"]["id"]
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(conversation_id)

    await player.close()
    dropped = await agent.receive_until(lambda f: f["type"] == "player_presence")
    back = PlayerSocket(lin.pk)
    await back.connect()
    returned = await agent.receive_until(lambda f: f["type"] == "player_presence")
    await back.close()
    await agent.close()

    assert (dropped["conversation_id"], dropped["online"]) == (conversation_id, False)
    assert returned["online"] is True
