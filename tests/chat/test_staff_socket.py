"""Staff and player sockets together, in one process on the embedded default.

The LLM is the fake ERNIE server streaming slowly, over real HTTP, so that a
takeover lands in the middle of an answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async

from chat import handoff, presence, staff_notify, staff_selectors
from chat.models import AgentProfile, Conversation, ConversationEvent, Message, Player
from chat.services import message_append
from chat.streaming import jobs
from tests.chat.socket_client import PlayerSocket, answer_text
from tests.chat.staff_client import StaffSocket, session_cookie
from tests.fake_ernie_fixtures import use_fake_ernie

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "充值没到账怎么办"
CHUNKS = [f"第{i}句：充值未到账时请先确认订单状态。" for i in range(1, 41)]  # 40 chunks, 0.2 s apart


@pytest.fixture
def slow_ernie(settings, fake_ernie_thread, demo_kb):
    fake_ernie_thread.configure(reply=CHUNKS, delay=0.2)
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1
    return fake_ernie_thread


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


def is_system(frame: dict) -> bool:
    return frame.get("type") == "message" and frame["message"]["sender"] == "system"


def bot_id(frames: list[dict]) -> int:
    return next(f["message"]["id"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")


def rows_in(frame: dict) -> list[dict]:
    """The list rows a dashboard frame carries: one after a handoff (`conversation`), or a batch."""
    if frame.get("type") == "conversation":
        return [frame["conversation"]]
    return frame["conversations"] if frame.get("type") == "conversations" else []


async def row_update(agent: StaffSocket, predicate=lambda row: True) -> dict:
    """The first list row the dashboard gets that matches, whichever frame carries it."""
    frame = await agent.receive_until(lambda f: any(predicate(row) for row in rows_in(f)))
    return next(row for row in rows_in(frame) if predicate(row))


async def told_and_ended(player: PlayerSocket, told) -> list[dict]:
    """The player's frames up to the notice and the answer's end, which may come before or after it."""
    after = await player.receive_until(told)
    if not any(is_end(f) for f in after):
        after += await player.receive_until(is_end)
    return after


async def assert_stopped_before_the_notice(before: list[dict], after: list[dict]) -> None:
    """No bot text after the player is told (`state`); the answer is stored as they saw it."""
    notice = next(i for i, f in enumerate(after) if f.get("type") == "state")
    assert not any(f.get("t") == "d" for f in after[notice:])
    assert next(f for f in after if is_end(f))["status"] == "interrupted"
    stored = await sync_to_async(Message.objects.get)(pk=bot_id(before))
    assert stored.text == answer_text(before + after, stored.pk)


async def player_chatting(player) -> tuple[PlayerSocket, int]:
    sock = PlayerSocket(player.pk)
    welcome = await sock.connect()
    return sock, welcome["conversation"]["id"]


async def watched_asking(agent_user, player_model) -> tuple[StaffSocket, PlayerSocket, int]:
    """The agent's dashboard watches the player's chat as the player asks QUESTION."""
    agent = await StaffSocket.of(agent_user)
    await agent.connect()
    player, cid = await player_chatting(player_model)
    await agent.watch(cid)
    await player.say(QUESTION)
    return agent, player, cid


async def taken_over_by(agent_user, player) -> tuple[PlayerSocket, int, StaffSocket]:
    """The player's chat, held by the agent: the player's socket, the chat's id, the agent's socket."""
    sock, cid = await player_chatting(player)
    agent = await StaffSocket.of(agent_user)
    await agent.connect()
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    return sock, cid, agent


async def test_a_watching_agent_sees_the_answer_grow_delta_by_delta_like_the_player(lin, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say("How do I get a refund?")
    first = await player.receive_until(lambda f: f.get("t") == "d")
    history = await agent.watch(cid)  # joins mid-answer

    case = next(f for f in history if f.get("type") == "case")["conversation"]
    assert case["id"] == cid and case["player"]["name"] == "Lin" and case["state"] == "bot"
    rest = await player.receive_until(is_end)
    seen = history + await agent.collect_until(is_end)
    await player.close()
    await agent.close()

    answer = bot_id(first)
    stored = await sync_to_async(Message.objects.get)(pk=answer)
    assert answer_text(first + rest, answer) == stored.text
    assert answer_text(seen, answer) == stored.text
    assert sum(f.get("t") == "d" for f in seen) > 1  # it grew on the agent's screen too
    assert seen[-1]["sources"]


async def test_a_takeover_stops_the_answer_at_once_and_keeps_its_partial_text(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await player.say(QUESTION)
    before = await player.receive_until(lambda f: f.get("t") == "d" and f["o"] > 0)

    started = time.perf_counter()
    await agent.send({"type": "take_over", "conversation_id": cid})
    after = await player.receive_until(is_end)
    latency = time.perf_counter() - started
    if not any(is_system(f) for f in after):
        after += await player.receive_until(is_system)
    ok = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    await player.close()
    await agent.close()

    # A wall-clock bound here only measured how busy the machine was (what the stop waits
    # on is test_the_answer_stops_before_the_dashboards_hear_of_a_handoff).
    print(f"\ncancel latency (one process): {latency * 1000:.1f} ms")
    assert next(f for f in after if is_end(f))["status"] == "interrupted"
    # No bot text after the notice (and none can follow the end: the job sends it last).
    notice = next(i for i, f in enumerate(after) if f.get("type") == "state")
    assert not any(f.get("t") == "d" for f in after[notice:])
    answer = bot_id(before)
    shown = answer_text(before + after, answer)
    stored = await sync_to_async(Message.objects.get)(pk=answer)
    assert stored.status == "interrupted" and stored.text == shown
    assert 0 < len(shown) < len("".join(CHUNKS))
    assert {"type": "state", "state": "human", "agent": {"name": "Alice"}} in after
    # In the language of the question and its answer, not the page's (Lin's is English).
    assert next(f for f in after if is_system(f))["message"]["text"] == "Alice 已加入对话。"
    assert ok == {"type": "ok", "action": "take_over", "conversation_id": cid}


@pytest.mark.parametrize("by", ["takeover", "escalation"])
async def test_no_bot_text_follows_the_notice_when_the_stop_takes_its_round_trip(
    lin, alice, slow_ernie, monkeypatch, by
):
    """In production the stop goes through Redis even to the process that sent it, while the
    notice reaches the player's socket there directly: for that round trip (0.6 s here, to
    catch the bot's next chunks) the bot streamed on after "Alice has joined the chat."."""
    read_control = jobs.JobRegistry._read_control

    async def round_trip(registry, layer, channel: str) -> None:
        async def slow_receive(channel: str) -> dict:
            event = await layer.receive(channel)
            if event.get("type") == "answer.cancel":
                await asyncio.sleep(0.6)
            return event

        await read_control(registry, SimpleNamespace(receive=slow_receive), channel)

    monkeypatch.setattr(jobs.JobRegistry, "_read_control", round_trip)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    before = await player.receive_until(lambda f: f.get("t") == "d")
    if by == "takeover":
        agent = await StaffSocket.of(alice)
        await agent.connect()
        await agent.send({"type": "take_over", "conversation_id": cid})
    else:
        await player.send({"type": "handoff"})
    after = await told_and_ended(player, is_system)
    await asyncio.sleep(0.7)  # the round trip's stop arrives, and changes nothing
    await player.close()
    if by == "takeover":
        await agent.close()

    await assert_stopped_before_the_notice(before, after)


@pytest.mark.parametrize("by", ["takeover", "escalation"])
async def test_the_answer_stops_before_the_dashboards_hear_of_a_handoff(lin, alice, slow_ernie, monkeypatch, by):
    """The stop must wait for nothing staff see: the bot streamed on while the dashboards'
    row and case panel were read, 24-244 ms on a busy machine (a takeover's, then still a
    player's request for a person's)."""
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await player.say(QUESTION)
    await player.receive_until(lambda f: f.get("t") == "d")
    ended, case_of = threading.Event(), staff_selectors.case_of

    def case_read_after_the_answer_ended(conversation_id: int) -> dict:
        ended.wait(10)
        return case_of(conversation_id)

    monkeypatch.setattr(staff_selectors, "case_of", case_read_after_the_answer_ended)
    if by == "takeover":
        await agent.send({"type": "take_over", "conversation_id": cid})
    else:
        await player.send({"type": "handoff"})
    try:
        stopped = await player.receive_until(is_end, timeout=5)
    finally:
        ended.set()
    # The dashboards hear of it after: the case panel, with the chat in the agent's hands or queued.
    state = "human" if by == "takeover" else "waiting"
    case = await agent.receive_until(lambda f: f.get("type") == "case" and f["conversation"]["state"] == state)
    await player.close()
    await agent.close()

    assert stopped[-1]["status"] == "interrupted"
    if by == "takeover":
        assert case["conversation"]["assignee"]["name"] == "Alice"
    else:
        assert case["conversation"]["handoff_reason"] == "player_request"


async def test_a_takeover_while_the_answer_is_prepared_stops_it_before_any_text(
    lin, alice, slow_ernie, held_preparation
):
    # The answer's row exists and its pipeline runs (in a helper, in production) when the
    # agent clicks: the row must end `interrupted`, not stay `streaming` with no job.
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await player.say(QUESTION)
    assert await asyncio.to_thread(held_preparation.preparing.wait, 10)
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    held_preparation.go_on.set()
    frames = await player.receive_until(is_end)
    await player.close()
    await agent.close()

    assert frames[-1]["status"] == "interrupted"
    assert not any(f.get("t") == "d" for f in frames)
    stored = await sync_to_async(Message.objects.get)(pk=bot_id(frames))
    assert (stored.status, stored.text) == ("interrupted", "")
    assert slow_ernie.requests == []


async def test_while_a_human_holds_the_chat_no_request_reaches_the_llm(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")

    await player.say("你好，有人吗？")
    await player.say(QUESTION)
    got = await agent.receive_until(lambda f: f.get("type") == "message" and f["message"].get("text") == QUESTION)
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
    await agent.receive_until(lambda f: f.get("type") == "ok")

    await agent.send({"type": "typing", "conversation_id": cid})
    typing = (await player.receive_until(lambda f: f.get("type") == "typing"))[-1]
    client_id = await agent.say(cid, "Hi Lin, I'm looking at your top-up now.")
    ack = await agent.receive_until(lambda f: f.get("type") == "ack")
    to_player = (
        await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "agent")
    )[-1]

    await player.send({"type": "typing"})
    player_typing = await agent.receive_until(lambda f: f.get("type") == "typing" and f["who"] == "player")
    await player.say("Thank you! Order 2024-1188.")
    to_agent = await agent.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "player")
    await player.close()
    await agent.close()

    assert typing == {"type": "typing", "who": "agent", "name": "Alice", "agent_id": alice.pk, "conversation_id": cid}
    assert ack["client_id"] == client_id and not ack.get("duplicate")
    assert to_player["message"]["text"] == "Hi Lin, I'm looking at your top-up now."
    assert to_player["message"]["name"] == "Alice"
    assert player_typing == {"type": "typing", "who": "player", "conversation_id": cid}
    assert to_agent["message"]["text"] == "Thank you! Order 2024-1188."


async def test_a_reply_and_a_note_sent_again_after_the_socket_dropped_are_stored_once(lin, alice, demo_kb):
    """Alice's socket dropped while her reply and her note waited for their acks; her dashboard
    sends both again, with the same client ids, on the socket that replaces it."""
    player, cid = await player_chatting(lin)
    await player.close()
    reply = {"type": "send", "conversation_id": cid, "client_id": "reply-1", "text": "Looking into it now."}
    note = {"type": "note", "conversation_id": cid, "client_id": "note-1", "text": "VIP, check the ledger"}
    dropped = await StaffSocket.of(alice)
    await dropped.connect()
    await dropped.send({"type": "take_over", "conversation_id": cid})
    await dropped.receive_until(lambda f: f.get("type") == "ok")
    first_acks = []
    for frame in (reply, note):
        await dropped.send(frame)
        first_acks.append(await dropped.receive_until(lambda f: f.get("type") == "ack"))
    await dropped.close()

    again = await StaffSocket.of(alice)
    await again.connect()
    second_acks = []
    for frame in (reply, note):
        await again.send(frame)
        second_acks.append(await again.receive_until(lambda f: f.get("type") == "ack"))
    history = await again.watch(cid)
    player, _cid = await player_chatting(lin)  # Lin opens the chat again: everything she has
    await player.send({"type": "resume", "after_seq": 0, "streams": {}})
    player_saw = await player.receive_until(lambda f: f.get("type") == "resumed")
    await player.close()
    await again.close()

    assert second_acks == [{**ack, "duplicate": True} for ack in first_acks]
    staff_saw = [
        (f["message"]["text"], f["message"].get("internal", False)) for f in history if f.get("type") == "message"
    ]
    assert staff_saw[-2:] == [("Looking into it now.", False), ("VIP, check the ledger", True)]
    assert [m for m, _internal in staff_saw].count("Looking into it now.") == 1
    assert [m for m, _internal in staff_saw].count("VIP, check the ledger") == 1
    to_player = [
        f["message"]["text"] for f in player_saw if f.get("type") == "message" and f["message"]["sender"] == "agent"
    ]
    assert to_player == ["Looking into it now."]


async def test_an_agent_who_does_not_hold_the_chat_cannot_write_to_the_player(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    holder, other = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await holder.connect()
    await other.connect()
    await holder.send({"type": "take_over", "conversation_id": cid})
    await holder.receive_until(lambda f: f.get("type") == "ok")
    await other.say(cid, "hello from Bob")
    refused = await other.receive_until(lambda f: f.get("type") == "error")
    await player.close()
    await holder.close()
    await other.close()

    assert refused["code"] == "not_holder" and refused["action"] == "send"
    assert not await sync_to_async(Message.objects.filter(sender="agent").exists)()


async def test_each_refusal_says_what_the_action_refused_needs(lin, alice, bob, mia, demo_kb):
    """Every refusal read "Only the agent holding this chat (or a manager) can do that.": Mia,
    a manager, read it under the reply she could not send (a manager writes only in a chat she
    holds), and an agent read it under a chat nobody held, where taking it over was the way."""
    player, cid = await player_chatting(lin)
    alice_socket, bob_socket, mia_socket = [await StaffSocket.of(user) for user in (alice, bob, mia)]
    for sock in (alice_socket, bob_socket, mia_socket):
        await sock.connect()

    async def refusal(sock: StaffSocket, frame: dict) -> str:
        await sock.send({**frame, "conversation_id": cid})
        refused = await sock.receive_until(lambda f: f.get("type") == "error")
        assert refused["action"] == frame["type"]
        return refused["message"]

    told = {"bot has it": {}, "Alice holds it": {}, "closed": {}}
    told["bot has it"]["send"] = await refusal(bob_socket, {"type": "send", "client_id": "b1", "text": "hi"})
    told["bot has it"]["transfer"] = await refusal(bob_socket, {"type": "transfer", "to": alice.pk})
    await alice_socket.send({"type": "take_over", "conversation_id": cid})
    await alice_socket.receive_until(lambda f: f.get("type") == "ok")
    told["Alice holds it"]["manager's send"] = await refusal(
        mia_socket, {"type": "send", "client_id": "m1", "text": "Mia here"}
    )
    for action in ("hand_back", "close"):
        told["Alice holds it"][action] = await refusal(bob_socket, {"type": action})
    told["Alice holds it"]["transfer"] = await refusal(bob_socket, {"type": "transfer", "to": mia.pk})
    await mia_socket.send({"type": "close", "conversation_id": cid})  # a manager may close it
    await mia_socket.receive_until(lambda f: f.get("type") == "ok")
    told["closed"]["send"] = await refusal(alice_socket, {"type": "send", "client_id": "a1", "text": "still there?"})
    for sock in (player, alice_socket, bob_socket, mia_socket):
        await sock.close()

    assert told == {
        "bot has it": {
            "send": "Take this chat over to write to its player.",
            "transfer": "Nobody holds this chat: take it over before transferring it.",
        },
        "Alice holds it": {
            "manager's send": "Alice is handling this chat: only they can write to its player.",
            "hand_back": "Only Alice, who holds this chat, or a manager can hand it back.",
            "close": "Only Alice, who holds this chat, or a manager can close it.",
            "transfer": "Only Alice, who holds this chat, or a manager can transfer it.",
        },
        "closed": {"send": "This conversation is closed."},
    }


async def test_only_the_agent_holding_a_chat_shows_its_player_that_someone_is_typing(lin, alice, bob, mia, demo_kb):
    """A dashboard's socket could say "typing" in any chat: Lin read "Alice is typing" while
    the bot answered her, or while Bob held her chat."""
    player, cid = await player_chatting(lin)
    alice_socket, mia_socket, bob_socket = [await StaffSocket.of(user) for user in (alice, mia, bob)]
    for sock in (alice_socket, mia_socket, bob_socket):
        await sock.connect()

    await alice_socket.send({"type": "typing", "conversation_id": cid})  # the bot has the chat
    while_the_bot_has_it = await alice_socket.receive_until(lambda f: f.get("type") == "error")
    await bob_socket.send({"type": "take_over", "conversation_id": cid})
    await bob_socket.receive_until(lambda f: f.get("type") == "ok")
    await mia_socket.send({"type": "typing", "conversation_id": cid})  # a manager, not in the chat
    while_bob_holds_it = await mia_socket.receive_until(lambda f: f.get("type") == "error")
    await bob_socket.send({"type": "typing", "conversation_id": cid})
    player_saw = await player.receive_until(lambda f: f.get("type") == "typing")
    for sock in (player, alice_socket, mia_socket, bob_socket):
        await sock.close()

    assert while_the_bot_has_it == {
        "type": "error",
        "code": "not_holder",
        "message": "Only the agent holding this chat can type to its player.",
        "action": "typing",
        "conversation_id": cid,
    }
    assert while_bob_holds_it["code"] == "not_holder" and while_bob_holds_it["action"] == "typing"
    # Bob's is the only "typing" Lin saw.
    assert [f for f in player_saw if f.get("type") == "typing"] == [
        {"type": "typing", "who": "agent", "name": "Bob", "agent_id": bob.pk, "conversation_id": cid}
    ]


async def test_typing_in_a_chat_that_does_not_exist_is_an_error(alice):
    dashboard = await StaffSocket.of(alice)
    await dashboard.connect()
    await dashboard.send({"type": "typing", "conversation_id": 424242})
    refused = await dashboard.receive_until(lambda f: f.get("type") == "error")
    await dashboard.close()

    assert refused["code"] == "not_found" and refused["conversation_id"] == 424242


async def test_a_reply_over_the_limit_is_refused_in_the_agents_language_and_names_the_text(lin, alice, demo_kb):
    from django.conf import settings

    player, cid = await player_chatting(lin)
    cookie = await sync_to_async(session_cookie)(alice)
    agent = StaffSocket(f"{cookie}; {settings.LANGUAGE_COOKIE_NAME}=zh-hans")
    await agent.connect()
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    too_long = "充值" * 1530  # 3060 characters
    reply = await agent.say(cid, too_long)
    refused = await agent.receive_until(lambda f: f.get("type") == "error")
    await agent.send({"type": "note", "conversation_id": cid, "client_id": "n1", "text": too_long})
    refused_note = await agent.receive_until(lambda f: f.get("type") == "error")
    await player.close()
    await agent.close()

    assert refused == {
        "type": "error",
        "code": "too_long",
        "message": "消息太长（最多 2000 字），未发送。",
        "client_id": reply,
    }
    assert refused_note["client_id"] == "n1" and refused_note["message"] == refused["message"]
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
        first.receive_until(lambda f: f.get("type") in ("ok", "error")),
        second.receive_until(lambda f: f.get("type") in ("ok", "error")),
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


async def test_an_agent_who_clicks_take_over_twice_is_not_told_about_herself(lin, alice, demo_kb):
    """The second click of a double click was refused as someone else's takeover: Alice read
    "Alice has this chat already." under the chat she had just taken (and, holding her last
    place, "You already hold 1 chat, the most allowed")."""
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await sync_to_async(AgentProfile.objects.filter(user=alice).update)(max_chats=1)
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.send({"type": "take_over", "conversation_id": cid})
    first = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    second = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    told = await player.receive_until(is_system)
    await player.close()
    await agent.close()

    assert first == second == {"type": "ok", "action": "take_over", "conversation_id": cid}
    assert told[-1]["message"]["text"] == "Alice has joined the chat."
    notices = Message.objects.filter(conversation_id=cid, sender="system").values_list("text", flat=True)
    assert await sync_to_async(list)(notices) == ["Alice has joined the chat."]  # joined once


async def test_after_a_hand_back_the_bot_answers_again(lin, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    player, cid, agent = await taken_over_by(alice, lin)
    await agent.send({"type": "hand_back", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    handed = (await player.receive_until(lambda f: f.get("type") == "state" and f["state"] == "bot"))[-1]
    await player.say("How do I get a refund?")
    frames = await player.receive_until(is_end)
    await player.close()
    await agent.close()

    assert handed == {"type": "state", "state": "bot"}
    assert frames[-1]["status"] == "done"
    kinds = await sync_to_async(list)(ConversationEvent.objects.values_list("kind", flat=True))
    assert kinds == ["taken_over", "handed_back"]


async def test_a_question_left_unanswered_when_the_agent_hands_back_gets_the_bots_answer(lin, alice, demo_kb, settings):
    """Lin asked while Alice held the chat, and Alice handed it back: the bot answered only
    what came next, and Lin waited on a chat gone silent."""
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    player, cid, agent = await taken_over_by(alice, lin)
    await player.say("How do I get a refund?")
    await player.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "hand_back", "conversation_id": cid})
    frames = await player.receive_until(is_end)
    await player.close()
    await agent.close()

    notice = next(i for i, f in enumerate(frames) if is_system(f) and f["message"]["event"] == "handed_back")
    answer = [f["message"] for f in frames[notice:] if f.get("type") == "message" and f["message"]["sender"] == "bot"]
    assert len(answer) == 1 and frames[-1]["status"] == "done"
    assert "refund" in answer_text(frames, answer[0]["id"]).lower()


async def test_a_question_stored_on_another_process_during_a_hand_backs_answer_is_answered_after_it(
    lin, alice, demo_kb, settings
):
    """Lin wrote again, on another web process, as Alice's hand-back set the bot answering his
    question: both processes started an answer, and Lin read two at once. The one asked on the
    other process now starts none beside the hand-back's, which answers it when it ends."""
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    player, cid, agent = await taken_over_by(alice, lin)
    await player.say("How do I get a refund?")
    await player.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "hand_back", "conversation_id": cid})
    first = (await player.receive_until(lambda f: f.get("t") == "d"))[-1]["i"]  # the answer streams

    # What another web process's helper does with Lin's message (chat/consumers.py: _accept).
    received, start = await sync_to_async(jobs._receive_and_start)(
        start=True, player=lin, conversation_id=cid, client_id="elsewhere", text="And how long does it take?"
    )
    assert start is None and received.answer
    assert await sync_to_async(jobs._start_and_prepare)(cid, received.message.pk) is None  # its start_answer

    frames = await player.receive_until(lambda f: is_end(f) and f["id"] != first)
    await player.close()
    await agent.close()

    answers = await sync_to_async(list)(
        Message.objects.filter(conversation_id=cid, sender="bot")
        .order_by("seq")
        .values("id", "reply_to_id", "status", "created_at", "finished_at")
    )
    assert [a["reply_to_id"] for a in answers] == [answers[0]["reply_to_id"], received.message.pk]
    assert [a["status"] for a in answers] == ["done", "done"]
    assert answers[1]["created_at"] >= answers[0]["finished_at"]  # one after the other, never two at once
    assert [f["id"] for f in frames if is_end(f)] == [first, answers[1]["id"]]


async def test_a_hand_back_after_the_agent_answered_starts_no_answer(lin, alice, demo_kb, settings):
    player, cid, agent = await taken_over_by(alice, lin)
    await player.say("How do I get a refund?")
    await player.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "send", "conversation_id": cid, "client_id": "a1", "text": "Sent you the form."})
    await agent.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "hand_back", "conversation_id": cid})
    await player.receive_until(lambda f: is_system(f) and f["message"]["event"] == "handed_back")
    await asyncio.sleep(0.5)
    await player.close()
    await agent.close()

    senders = Message.objects.filter(conversation_id=cid).order_by("seq").values_list("sender", flat=True)
    assert await sync_to_async(list)(senders) == ["system", "player", "agent", "system"]


async def test_an_agent_who_clicks_hand_back_twice_is_not_told_she_may_not(lin, alice, demo_kb):
    """The second click found the chat with the bot and was refused: Alice read "Only the
    agent holding this chat (or a manager) can do that." under the chat she had just handed back."""
    player, cid, agent = await taken_over_by(alice, lin)
    await agent.send({"type": "hand_back", "conversation_id": cid})
    await agent.send({"type": "hand_back", "conversation_id": cid})
    first = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    second = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    await player.receive_until(lambda f: is_system(f) and f["message"]["event"] == "handed_back")
    await player.close()
    await agent.close()

    assert first == second == {"type": "ok", "action": "hand_back", "conversation_id": cid}
    notices = Message.objects.filter(conversation_id=cid, sender="system").values_list("text", flat=True)
    assert await sync_to_async(list)(notices) == [
        "Alice has joined the chat.",
        "You are chatting with our assistant again.",
    ]


async def test_a_player_waiting_with_nobody_online_can_go_on_with_the_bot(lin, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    player, cid = await player_chatting(lin)
    await player.send({"type": "handoff"})
    await player.receive_until(lambda f: f.get("type") == "message" and f["message"].get("event") == "no_agent")
    await player.send({"type": "back_to_bot"})
    back = await player.receive_until(is_system)
    await player.say("How do I get a refund?")
    answered = await player.receive_until(is_end)
    await player.send({"type": "back_to_bot"})  # not waiting any more: only the state, again
    again = (await player.receive_until(lambda f: f.get("type") == "state"))[-1]
    await player.close()

    assert {"type": "state", "state": "bot"} in back
    assert back[-1]["message"]["text"] == "You are chatting with our assistant again."
    assert answered[-1]["status"] == "done"
    assert again == {"type": "state", "state": "bot"}
    conversation = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert (conversation.state, conversation.handoff_reason, conversation.waiting_since) == ("bot", "", None)
    events = await sync_to_async(list)(ConversationEvent.objects.values_list("kind", "reason"))
    assert events == [("escalated", "player_request"), ("handed_back", "player")]


async def test_a_player_handed_over_with_nobody_online_may_close_the_page_and_reads_the_reply_on_coming_back(
    lin, alice, demo_kb
):
    """They read "Leave a message here and the next agent will reply", and not whether they had
    to keep the page open, nor where the reply would be. Told they may close it, they do; Alice
    comes, takes the chat and answers; Lin opens the chat again (the same cookie) and reads it."""
    player, cid = await player_chatting(lin)
    await player.send({"type": "handoff"})
    told = await player.receive_until(lambda f: is_system(f) and f["message"].get("event") == "no_agent")
    await player.say("My sword vanished after the update, please look into it.")
    await player.receive_until(lambda f: f.get("type") == "ack")
    await player.close()  # the page closed, as it says she may

    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    await agent.send(
        {"type": "send", "conversation_id": cid, "client_id": "a1", "text": "Restored it, check your bag."}
    )
    await agent.receive_until(lambda f: f.get("type") == "ack")
    await agent.close()
    back, back_cid = await player_chatting(lin)
    await back.send({"type": "resume", "after_seq": 0, "streams": {}})
    reopened = await back.receive_until(lambda f: f.get("type") == "resumed")
    await back.close()

    assert told[-1]["message"]["text"] == (
        "No support agent is online right now. Leave your message here and you can close this page: "
        "the next agent's reply will be waiting in this chat when you open it again in this browser. "
        "We can't notify you, so please check back later."
    )
    assert back_cid == cid
    shown = [(f["message"]["sender"], f["message"].get("text")) for f in reopened if f.get("type") == "message"]
    assert shown[-1] == ("agent", "Restored it, check your bag.")
    assert ("player", "My sword vanished after the update, please look into it.") in shown


async def test_closing_stops_the_answer_and_the_next_message_opens_a_new_chat(lin, alice, slow_ernie):
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say(QUESTION)
    await player.receive_until(lambda f: f.get("t") == "d")
    await agent.send({"type": "close", "conversation_id": cid})
    stopped = await player.receive_until(is_end)
    if not any(f.get("type") == "state" for f in stopped):
        stopped += await player.receive_until(lambda f: f.get("type") == "state")
    closed = next(f for f in stopped if f.get("type") == "state")
    await player.say("one more thing")
    welcome = (await player.receive_until(lambda f: f.get("type") == "welcome"))[-1]
    await player.close()
    await agent.close()

    assert next(f for f in stopped if is_end(f))["status"] == "interrupted"
    assert closed["state"] == "closed"
    assert welcome["conversation"]["id"] != cid


def held_ending(monkeypatch) -> tuple[asyncio.Event, asyncio.Event]:
    """The answer's final write waits for the second event once it has set the first."""
    ending, go_on, finish = asyncio.Event(), asyncio.Event(), jobs._finish

    async def finish_once_told(**fields) -> bool:
        ending.set()
        await go_on.wait()
        return await finish(**fields)

    monkeypatch.setattr(jobs, "_finish", finish_once_told)
    return ending, go_on


async def test_a_second_stop_while_the_answer_is_ending_still_lets_it_end(lin, slow_ernie, monkeypatch):
    """An escalation that an agent is assigned to at once stops the answer twice (the queue,
    then the takeover), as does a close right after a takeover. The second stop cut the
    first's ending short: the player's answer never ended and its row stayed `streaming`."""
    ending, go_on = held_ending(monkeypatch)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    first = await player.receive_until(lambda f: f.get("t") == "d")
    await jobs.cancel_answer(cid)
    await asyncio.wait_for(ending.wait(), 10)
    jobs.registry().cancel_local(cid)  # the second stop, as this process's control channel reads it
    go_on.set()
    frames = await player.receive_until(is_end)
    await player.close()

    assert frames[-1]["status"] == "interrupted"
    stored = await sync_to_async(Message.objects.get)(pk=bot_id(first))
    assert stored.status == "interrupted" and stored.text == answer_text(first + frames, stored.pk)


@pytest.mark.parametrize("stop", ["take_over", "close"])
async def test_a_stop_while_the_bot_flags_an_unsafe_question_ends_the_answer_interrupted_at_once(
    lin, alice, slow_ernie, monkeypatch, stop
):
    """The upstream flagged the player's input and the job was marking it when the agent
    clicked: the stop escaped the job's handling, the player never got `end` and the row
    stayed `streaming` until the sweep for orphans."""
    slow_ernie.script("need_clear_history")
    flagging, go_on = asyncio.Event(), asyncio.Event()

    async def slow_flag(**fields) -> None:
        flagging.set()
        await go_on.wait()

    monkeypatch.setattr(jobs, "_flag", slow_flag)
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say("一个不安全的问题")
    await asyncio.wait_for(flagging.wait(), 10)
    await agent.send({"type": stop, "conversation_id": cid})
    try:
        frames = await player.receive_until(is_end, timeout=5)
    finally:
        go_on.set()
    await player.close()
    await agent.close()

    assert frames[-1]["status"] == "interrupted"
    assert not any(f.get("type") == "replace" for f in frames)  # no canned reply after the notice
    stored = await sync_to_async(Message.objects.get)(pk=bot_id(frames))
    assert (stored.status, stored.text) == ("interrupted", "")


async def test_a_second_stop_while_an_answer_stopped_before_its_text_ends_still_lets_it_end(
    lin, slow_ernie, held_preparation, monkeypatch
):
    """The first stop came while the answer's row was being created, so the job stopped
    itself; a second one (the takeover after an escalation) cut that ending short: the
    player never got `end` and the row stayed `streaming` until the sweep."""
    ending, go_on = held_ending(monkeypatch)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    assert await asyncio.to_thread(held_preparation.preparing.wait, 10)
    jobs.registry().cancel_local(cid)  # the first stop, while the row is being created
    held_preparation.go_on.set()
    await asyncio.wait_for(ending.wait(), 10)
    jobs.registry().cancel_local(cid)  # the second, while the answer ends
    go_on.set()
    frames = await player.receive_until(is_end, timeout=5)
    await player.close()

    assert frames[-1]["status"] == "interrupted"
    stored = await sync_to_async(Message.objects.get)(pk=bot_id(frames))
    assert (stored.status, stored.text) == ("interrupted", "")


async def test_an_agent_assigned_when_the_bot_gives_up_is_announced_in_full(
    lin, alice, settings, fake_ernie_thread, demo_kb
):
    """The bot escalates after its answer, from the answer's job, and an agent is assigned
    at once: that takeover stops the conversation's job, the very one announcing it, and
    cut its own announcement short."""
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1
    settings.AUTO_ASSIGN = True
    fake_ernie_thread.script("error_object", error_code=336100)
    await sync_to_async(presence.presence_connect)(user=alice)
    agent, player, cid = await watched_asking(alice, lin)
    failed = await player.receive_until(is_end)
    joined = await player.receive_until(lambda f: is_system(f) and f["message"]["event"] == "taken_over", timeout=5)
    case = await agent.receive_until(lambda f: f.get("type") == "case" and f["conversation"]["state"] == "human")
    row = await row_update(agent, lambda row: row["state"] == "human")
    await player.close()
    await agent.close()

    assert failed[-1]["status"] == "failed"
    assert {"type": "state", "state": "human", "agent": {"name": "Alice"}} in joined
    assert joined[-1]["message"]["text"] == "Alice 已加入对话。"  # the question's language
    assert case["conversation"]["assignee"]["name"] == "Alice"
    assert (row["id"], row["assignee"]["name"]) == (cid, "Alice")


async def test_the_handoff_button_queues_the_chat_and_dashboards_see_it(lin, alice, slow_ernie):
    agent = await StaffSocket.of(alice)
    await agent.connect()
    player, cid = await player_chatting(lin)
    await player.send({"type": "handoff"})
    frames = await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    row = await agent.receive_until(
        lambda f: f.get("type") == "conversation" and f["conversation"]["state"] == "waiting"
    )
    await agent.send({"type": "list", "filter": "waiting"})
    listed = await agent.receive_until(lambda f: f.get("type") == "list")
    await player.close()
    await agent.close()

    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "waiting"  # Alice is online
    assert row["conversation"]["id"] == cid and row["conversation"]["handoff_reason"] == "player_request"
    assert row["conversation"]["waiting_since"] and row["queue"] == {"waiting": 1}
    assert [c["id"] for c in listed["conversations"]] == [cid] and listed["counts"]["waiting"] == 1
    assert slow_ernie.requests == []


@pytest.mark.parametrize("assigned", [False, True])
async def test_asking_for_a_human_mid_answer_stops_it_before_the_player_is_told(
    lin, alice, slow_ernie, settings, assigned
):
    """The escalation reads the dashboards' row and case panel (and, with AUTO_ASSIGN,
    assigns the agent) before it stops the answer: the bot streams on meanwhile, but the
    player is told only after the stop, so no bot text follows "in the queue" or "joined"."""
    settings.AUTO_ASSIGN = assigned
    await sync_to_async(presence.presence_connect)(user=alice)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    before = await player.receive_until(lambda f: f.get("t") == "d")
    await player.send({"type": "handoff"})
    told = "taken_over" if assigned else "waiting"
    after = await told_and_ended(player, lambda f: is_system(f) and f["message"]["event"] == told)
    await player.close()

    await assert_stopped_before_the_notice(before, after)


@pytest.mark.parametrize("words", ["转人工", "I want a human"])
async def test_asking_for_a_human_in_words_skips_the_llm(lin, slow_ernie, words):
    player, cid = await player_chatting(lin)
    await player.say(words)
    frames = await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    await asyncio.sleep(0.3)
    await player.close()

    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "no_agent"  # nobody is online
    assert slow_ernie.requests == []
    conversation = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "player_request")


async def test_a_chat_that_asks_for_a_person_reaches_staff_already_read(lin, alice, slow_ernie):
    """No answer, but the agent sees what the bot would have understood: mood, intent, order."""
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(cid)
    await player.say("THIS IS RIDICULOUS, my top-up didn't arrive, order SL2024060101. Connect me to an agent!")
    panel = await agent.receive_until(lambda f: f.get("type") == "case" and f["conversation"]["state"] == "waiting")
    await asyncio.sleep(0.3)
    await player.close()
    await agent.close()

    case = panel["conversation"]
    assert case["handoff_reason"] == "player_request"
    assert case["sentiment"] is not None and case["sentiment"] < 0
    assert case["intent"] == "recharge_not_arrived"
    assert case["facts"]["order_no"] == "SL2024060101"
    assert slow_ernie.requests == []  # the bot did not answer
    senders = await sync_to_async(list)(Message.objects.filter(conversation_id=cid).values_list("sender", flat=True))
    assert "bot" not in senders


async def test_what_the_player_tells_the_agent_reaches_her_case_panel(lin, alice, slow_ernie):
    """Lin, calm when Alice took over, grew furious with her and gave her the order number:
    the panel still said "calm" with no order, since only the bot's answers read messages."""
    player, cid, agent = await taken_over_by(alice, lin)
    await agent.watch(cid)
    await player.say("THIS IS RIDICULOUS, still nothing!!! The order is SL2024060101")
    await agent.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "player")
    await agent.send({"type": "case", "conversation_id": cid})  # as the dashboard does on a player's message
    panel = (await agent.receive_until(lambda f: f.get("type") == "case"))["conversation"]
    await player.close()
    await agent.close()

    assert panel["state"] == "human"
    assert panel["sentiment_level"] in ("upset", "angry") and panel["sentiment"] < 0
    assert panel["facts"]["order_no"] == "SL2024060101"
    assert slow_ernie.requests == []  # the bot stayed out of it


async def test_a_server_the_player_tells_the_agent_is_in_her_case_and_the_bot_knows_it_after(
    lin, alice, demo_kb, settings
):
    """Alice asked Lin "Which server?" and he wrote "S3": nothing recorded it, and after the
    hand-back the bot asked him for his server again. A server written as one is read from a
    message to a person, but not a word such as "frost"."""
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    player, cid, agent = await taken_over_by(alice, lin)
    await agent.watch(cid)
    for asked, told in (("Which server?", "S3"), ("Where did you lose it?", "in the frost caves")):
        await agent.say(cid, asked)
        await agent.receive_until(lambda f: f.get("type") == "ack")
        await player.say(told)
        await agent.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "player")
    await agent.send({"type": "case", "conversation_id": cid})  # as the dashboard does on a player's message
    panel = (await agent.receive_until(lambda f: f.get("type") == "case"))["conversation"]
    await agent.say(cid, "The bot will take it from here.")  # answered: the hand-back starts no answer
    await agent.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "hand_back", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    await player.receive_until(lambda f: is_system(f) and f["message"]["event"] == "handed_back")
    await player.say("I lost my gear")
    frames = await player.receive_until(is_end)
    await player.close()
    await agent.close()

    assert panel["facts"] == {"player_id": "10086", "server": "S3"}  # "frost caves" is no S4
    answer = answer_text(frames, frames[-1]["id"])
    assert "Which item is missing?" in answer and "Which server" not in answer, answer  # only the item


async def test_the_bot_hands_over_when_the_upstream_fails(lin, settings, fake_ernie_thread, demo_kb):
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1
    fake_ernie_thread.script("error_object", error_code=336100)
    player, cid = await player_chatting(lin)
    await player.say(QUESTION)
    failed = await player.receive_until(is_end)
    after = await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
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
    after = await player.receive_until(lambda f: f.get("type") == "state")
    await player.close()

    assert "sources" not in first[-1] and "sources" not in second[-1]  # omitted when empty
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
    ack = await agent.receive_until(lambda f: f.get("type") == "ack")
    seen = await colleague.receive_until(lambda f: f.get("type") == "message")
    await player.send({"type": "resume", "after_seq": 0, "streams": {}})
    resumed = await player.receive_until(lambda f: f.get("type") == "resumed")
    await player.send({"type": "ping"})
    pong = await player.receive()
    await player.close()
    await agent.close()
    await colleague.close()

    assert ack["client_id"] == "n1"
    assert seen["message"]["internal"] is True and seen["message"]["name"] == "Alice"
    assert not [f for f in resumed if f.get("type") == "message"]
    assert pong == {"type": "pong"}  # nothing else was queued for the player


async def test_a_note_shows_on_the_chats_row_as_its_latest_message_at_once(lin, alice, demo_kb):
    """The row kept the reply before the note until the dashboard was loaded again."""
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "note", "conversation_id": cid, "text": "checking billing", "client_id": "n1"})
    row = await row_update(agent, lambda row: row["id"] == cid and (row["last_message"] or {}).get("internal"))
    await player.close()
    await agent.close()

    assert row["last_message"]["text"] == "checking billing"


async def test_a_dashboard_list_follows_new_chats_and_messages_live(lin, kai, alice, demo_kb, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    agent = await StaffSocket.of(alice)
    hello = await agent.connect()
    await agent.send({"type": "list", "filter": "open"})
    empty = await agent.receive_until(lambda f: f.get("type") == "list")
    player, cid = await player_chatting(kai)
    await player.say("How do I get a refund?")
    new_chat = await row_update(agent)
    answered = await row_update(agent, lambda row: (row["last_message"] or {}).get("sender") == "bot")
    await agent.send({"type": "list", "filter": "open", "q": "refund"})
    found = await agent.receive_until(lambda f: f.get("type") == "list")
    await agent.send({"type": "list", "filter": "open", "q": "10010"})
    by_id = await agent.receive_until(lambda f: f.get("type") == "list")
    await agent.send({"type": "list", "filter": "open", "q": "nothing like this"})
    nothing = await agent.receive_until(lambda f: f.get("type") == "list")
    await player.close()
    await agent.close()

    assert hello["me"]["name"] == "Alice" and hello["me"]["roles"] == ["agent"]
    assert any(a["name"] == "Alice" and a["online"] for a in hello["agents"])
    assert empty["conversations"] == []
    assert new_chat["id"] == cid
    assert new_chat["last_message"]["text"] == "How do I get a refund?"
    assert answered["messages"] == 2
    assert [c["id"] for c in found["conversations"]] == [cid]
    assert [c["id"] for c in by_id["conversations"]] == [cid]
    assert nothing["conversations"] == []


async def test_the_list_names_the_chats_i_hold_whatever_the_filter(lin, kai, alice, bob, demo_kb):
    mine, bobs = await chats_with_a_message(lin, kai)
    agent, colleague = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await agent.connect()
    await colleague.connect()
    await agent.send({"type": "take_over", "conversation_id": mine})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    await colleague.send({"type": "take_over", "conversation_id": bobs})
    await colleague.receive_until(lambda f: f.get("type") == "ok")
    await agent.send({"type": "list", "filter": "waiting"})
    listed = await agent.receive_until(lambda f: f.get("type") == "list")
    await agent.say(mine, "Looking into it now.")
    await agent.receive_until(lambda f: f.get("type") == "ack")
    await agent.send({"type": "list", "filter": "waiting"})
    answered = await agent.receive_until(lambda f: f.get("type") == "list")
    await agent.close()
    await colleague.close()

    assert listed["conversations"] == []
    assert listed["mine"] == [mine] and listed["counts"]["mine"] == 1
    # Of those, the ones whose player waits for her reply (Bob's player waits for Bob).
    assert (listed["awaiting"], answered["awaiting"]) == ([mine], [])


async def test_analytics_alerts_are_relayed_to_dashboards(alice, db):
    from channels.layers import get_channel_layer

    agent = await StaffSocket.of(alice)
    await agent.connect()
    frame = '{"type":"alert","event":"raised","alert":{"id":7,"state":"active","description":"Long queue"}}'
    await get_channel_layer().group_send("staff.alerts", {"type": "relay", "frame": frame})
    alert = await agent.receive_until(lambda f: f.get("type") == "alert")
    await agent.close()
    assert alert["alert"]["description"] == "Long queue"


async def test_a_dashboard_that_connects_gets_the_alerts_already_active(alice, db):
    from analytics.models import Alert

    await sync_to_async(Alert.objects.create)(
        kind=Alert.Kind.QUEUE_WAIT, description="Long queue: 3 players are waiting", value=900, threshold=600
    )
    agent = await StaffSocket.of(alice)
    await agent.connect()
    alert = await agent.receive_until(lambda f: f.get("type") == "alert")
    await agent.close()
    assert alert["event"] == "raised" and alert["alert"]["description"] == "Long queue: 3 players are waiting"


async def test_a_transfer_hands_the_chat_to_a_colleague_and_the_player_sees_who(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    first, second = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await first.connect()
    await second.connect()
    await first.send({"type": "take_over", "conversation_id": cid})
    await first.receive_until(lambda f: f.get("type") == "ok")
    await first.send({"type": "transfer", "conversation_id": cid, "to": bob.pk})
    await first.receive_until(lambda f: f.get("type") == "ok")
    row = await second.receive_until(
        lambda f: f.get("type") == "conversation" and (f["conversation"]["assignee"] or {}).get("name") == "Bob"
    )
    joined = await player.receive_until(lambda f: is_system(f) and "Bob" in f["message"]["text"])
    await second.say(cid, "Bob here, I'll take it from now.")
    ack = await second.receive_until(lambda f: f.get("type") in ("ack", "error"))
    await first.say(cid, "Alice again")
    refused = await first.receive_until(lambda f: f.get("type") == "error")
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


async def take_over_and_transfer(agent: StaffSocket, cid: int, to) -> dict:
    """`agent` takes the chat over and transfers it to `to`: the answer to the transfer."""
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    await agent.send({"type": "transfer", "conversation_id": cid, "to": to.pk})
    return await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))


async def test_an_agent_who_clicks_transfer_twice_is_not_told_she_may_not(lin, alice, bob, demo_kb):
    """The second click found the chat already Bob's and was refused: Alice read "Only the agent
    holding this chat (or a manager) can do that." under the chat she had just transferred."""
    player, cid = await player_chatting(lin)
    first, second = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await first.connect()
    await second.connect()
    transferred = await take_over_and_transfer(first, cid, bob)
    await first.send({"type": "transfer", "conversation_id": cid, "to": bob.pk})
    again = await first.receive_until(lambda f: f.get("type") in ("ok", "error"))
    await player.receive_until(lambda f: is_system(f) and "Bob" in f["message"]["text"])
    await player.close()
    await first.close()
    await second.close()

    assert transferred == again == {"type": "ok", "action": "transfer", "conversation_id": cid}
    kinds = await sync_to_async(list)(ConversationEvent.objects.values_list("kind", flat=True))
    assert kinds == ["taken_over", "transferred"]  # transferred once


async def test_a_transfer_to_an_agent_who_is_away_is_refused_and_the_chat_stays(lin, alice, bob, demo_kb):
    player, cid = await player_chatting(lin)
    first, second = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await first.connect()
    await second.connect()
    await second.send({"type": "status", "status": "away"})
    # Bob's status, not only `online`: a roster from before his socket was counted also says offline.
    await first.receive_until(lambda f: f.get("type") == "agents" and roster_entry(f, "Bob")["status"] == "away")
    refused = await take_over_and_transfer(first, cid, bob)
    await player.close()
    await first.close()
    await second.close()

    assert (refused["type"], refused["code"], refused["action"]) == ("error", "not_available", "transfer")
    assert refused["message"] == "Bob is away. Transfer the chat to someone who is online."
    conversation = await sync_to_async(Conversation.objects.select_related("assignee").get)(pk=cid)
    assert (conversation.state, conversation.assignee.username) == ("human", "alice")


async def test_an_agent_at_capacity_who_takes_over_is_told_it_is_them_and_what_frees_a_place(lin, kai, alice):
    """She read "Alice already holds 1 chats, the most allowed.", as if about someone else."""
    first, first_id = await player_chatting(lin)
    second, second_id = await player_chatting(kai)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await sync_to_async(AgentProfile.objects.filter(user=alice).update)(max_chats=1)
    await agent.send({"type": "take_over", "conversation_id": first_id})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    await agent.send({"type": "take_over", "conversation_id": second_id})
    refused = await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    await first.close()
    await second.close()
    await agent.close()

    assert (refused["type"], refused["code"]) == ("error", "at_capacity")
    assert refused["message"] == "You already hold 1 chat, the most allowed: close or hand back one to take another."


async def test_a_transfer_to_a_colleague_at_capacity_says_how_many_chats_they_hold(lin, kai, alice, bob):
    """Alice read "Bob already holds 1 chats, the most allowed." """
    first, first_id = await player_chatting(lin)
    second, second_id = await player_chatting(kai)
    sender, colleague = await StaffSocket.of(alice), await StaffSocket.of(bob)
    await sender.connect()
    await colleague.connect()
    await sync_to_async(AgentProfile.objects.filter(user=bob).update)(max_chats=1)
    await colleague.send({"type": "take_over", "conversation_id": second_id})
    await colleague.receive_until(lambda f: f.get("type") == "ok")
    refused = await take_over_and_transfer(sender, first_id, bob)
    await first.close()
    await second.close()
    await sender.close()
    await colleague.close()

    assert (refused["type"], refused["code"]) == ("error", "at_capacity")
    assert refused["message"] == "Bob already holds 1 chat, the most allowed."


def roster_entry(frame: dict, name: str) -> dict:
    return next(agent for agent in frame["agents"] if agent["name"] == name)


async def test_staff_see_when_the_players_connection_drops_and_comes_back(lin, alice):
    player = PlayerSocket(lin.pk)
    conversation_id = (await player.connect())["conversation"]["id"]
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.watch(conversation_id)
    here = await agent.receive_until(lambda f: f.get("type") == "player_presence")

    await player.close()
    dropped = await agent.receive_until(lambda f: f.get("type") == "player_presence")
    back = PlayerSocket(lin.pk)
    await back.connect()
    returned = await agent.receive_until(lambda f: f.get("type") == "player_presence")
    await back.close()
    await agent.close()

    assert here["online"] is True
    assert (dropped["conversation_id"], dropped["online"]) == (conversation_id, False)
    assert returned["online"] is True


async def test_an_agent_who_opens_a_chat_is_told_whether_its_player_is_connected(lin, alice):
    tab = PlayerSocket(lin.pk)
    conversation_id = (await tab.connect())["conversation"]["id"]
    other_tab = PlayerSocket(lin.pk)
    await other_tab.connect()
    agent = await StaffSocket.of(alice)
    await agent.connect()

    await agent.watch(conversation_id)  # after the player connected: it missed that
    connected = await agent.receive_until(lambda f: f.get("type") == "player_presence")
    await tab.close()  # their other tab is still open
    await agent.send({"type": "unwatch"})
    await agent.watch(conversation_id)
    still = await agent.receive_until(lambda f: f.get("type") == "player_presence")
    await other_tab.close()
    gone = await agent.receive_until(lambda f: f.get("type") == "player_presence")
    await agent.send({"type": "unwatch"})
    history = await agent.watch(conversation_id)
    await asyncio.sleep(0.3)  # an answer would have come by now
    await agent.send({"type": "ping"})
    until_pong = await agent.collect_until(lambda f: f.get("type") == "pong")
    await agent.close()

    assert (connected["conversation_id"], connected["online"]) == (conversation_id, True)
    assert still["online"] is True
    assert gone["online"] is False
    assert not [f for f in until_pong if f.get("type") == "player_presence"]  # nobody has a socket of theirs
    # What the panel then shows: when the player was last seen, which is when they left.
    case = next(f for f in history if f.get("type") == "case")["conversation"]
    assert case["player"]["last_seen"] == gone["at"]


# --- Dashboard rows: batched per process, handoffs at once ---------------------------------


def chat_with_a_message(player, text: str = "my top-up is missing") -> int:
    conversation = Conversation.objects.create(player=player, language="en")
    message_append(conversation_id=conversation.pk, sender="player", text=text, client_id=f"c-{conversation.pk}")
    return conversation.pk


async def chats_with_a_message(*players) -> list[int]:
    return [await sync_to_async(chat_with_a_message)(p) for p in players]


def test_staff_find_a_player_by_the_name_the_list_shows(alice, lin):
    visitor, gamer = Player.objects.create(), Player.objects.create(game_player_id="20481")
    with_visitor, with_gamer = chat_with_a_message(visitor), chat_with_a_message(gamer)
    chat_with_a_message(lin)

    def found(q: str) -> list[int]:
        return [row["id"] for row in staff_selectors.conversation_list(user=alice, q=q)]

    shown = staff_selectors.conversation_list(user=alice, q=visitor.label)[0]["player"]["name"]
    assert shown == visitor.label and shown.startswith("visitor-")
    assert found(visitor.label[:10]) == [with_visitor]  # "visitor-88"
    assert found(visitor.label.upper()) == [with_visitor]
    assert found(gamer.label) == [with_gamer]  # "#20481"


def test_the_rows_of_any_number_of_chats_cost_three_queries(lin, kai, django_assert_num_queries):
    chats = [chat_with_a_message(p) for p in (lin, kai, lin, kai)]
    with django_assert_num_queries(3):  # the chats, their last messages, the queue
        frame = staff_selectors.rows_frame([*reversed(chats), 999_999])
    assert frame["type"] == "conversations"
    assert [row["id"] for row in frame["conversations"]] == list(reversed(chats))  # a deleted chat is left out
    assert frame["queue"] == {"waiting": 0}


async def test_a_dashboard_sees_one_batched_update_for_several_chats_changing_at_once(lin, kai, alice, settings):
    settings.STAFF_ROW_BATCH_SECONDS = 0.3
    chats = await chats_with_a_message(lin, kai, lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    for cid in chats:
        await staff_notify.row_changed(cid)
    frame = await agent.receive_until(lambda f: f.get("type") == "conversations")
    await agent.close()

    assert [row["id"] for row in frame["conversations"]] == chats
    assert frame["conversations"][0]["last_message"]["text"] == "my top-up is missing"
    assert frame["queue"] == {"waiting": 0}


async def test_changes_during_the_batch_window_wait_for_it_and_go_out_together(lin, kai, alice, settings):
    settings.STAFF_ROW_BATCH_SECONDS = 0.3
    first, second = await chats_with_a_message(lin, kai)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.row_changed(first)  # after a quiet spell: sent at once
    at_once = await agent.receive_until(lambda f: f.get("type") == "conversations")
    sent_at = time.monotonic()
    await staff_notify.row_changed(second)
    await staff_notify.row_changed(first)
    batched = await agent.receive_until(lambda f: f.get("type") == "conversations")
    waited = time.monotonic() - sent_at
    await agent.close()

    assert [row["id"] for row in at_once["conversations"]] == [first]
    assert [row["id"] for row in batched["conversations"]] == [second, first]
    assert waited >= 0.2


async def test_a_failed_update_is_logged_and_later_changes_still_reach_dashboards(
    lin, kai, alice, settings, monkeypatch, caplog
):
    settings.STAFF_ROW_BATCH_SECONDS = 0.01
    broken, fine = await chats_with_a_message(lin, kai)
    real, calls = staff_notify._rows, []

    async def database_hiccup(ids):
        calls.append(list(ids))
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return await real(ids)

    monkeypatch.setattr(staff_notify, "_rows", database_hiccup)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.row_changed(broken)
    while not calls:
        await asyncio.sleep(0.01)
    await staff_notify.row_changed(fine)
    frame = await agent.receive_until(lambda f: f.get("type") == "conversations")
    await agent.close()

    assert [row["id"] for row in frame["conversations"]] == [fine]
    assert "dashboard rows update failed" in caplog.text and "the database went away" in caplog.text


async def test_a_takeover_reaches_dashboards_at_once_whatever_the_batch_window(lin, alice, settings):
    settings.STAFF_ROW_BATCH_SECONDS = 30
    (cid,) = await chats_with_a_message(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.row_changed(cid)
    await agent.receive_until(lambda f: f.get("type") == "conversations")
    await staff_notify.row_changed(cid)  # waits for the window, 30 s away
    await agent.send({"type": "take_over", "conversation_id": cid})
    frames = await agent.collect_until(lambda f: bool(rows_in(f)), timeout=2)
    await agent.close()

    assert frames[-1]["type"] == "conversation"
    assert (frames[-1]["conversation"]["id"], frames[-1]["conversation"]["state"]) == (cid, "human")


async def test_a_row_read_just_before_a_takeover_is_sent_again_so_dashboards_end_up_current(
    lin, alice, settings, monkeypatch
):
    settings.STAFF_ROW_BATCH_SECONDS = 0.05
    (cid,) = await chats_with_a_message(lin)
    real, read, release = staff_notify._rows, asyncio.Event(), asyncio.Event()

    async def slow_after_reading(ids):
        frame = await real(ids)
        if not read.is_set():
            read.set()
            await release.wait()
        return frame

    monkeypatch.setattr(staff_notify, "_rows", slow_after_reading)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.row_changed(cid)
    await read.wait()  # this row still says "bot"
    await agent.send({"type": "take_over", "conversation_id": cid})
    frames = await agent.collect_until(lambda f: f.get("type") == "ok")
    release.set()
    seen = [(f["type"], row["state"]) for f in frames for row in rows_in(f)]
    while len(seen) < 3:
        frame = await agent.receive_until(lambda f: bool(rows_in(f)))
        seen += [(frame["type"], row["state"]) for row in rows_in(frame)]
    await agent.close()

    assert seen == [("conversation", "human"), ("conversations", "bot"), ("conversations", "human")]


def calm_answer(**meta) -> dict:
    sources = [{"n": 1, "title": "Refunds", "source_id": "refunds"}]
    return {"sentiment": {"score": 0.1, "level": "calm", "words": [], "escalate": False}, "sources": sources, **meta}


async def test_a_calm_answer_updates_the_row_without_the_escalation_queries(lin, alice, settings, monkeypatch):
    settings.STAFF_ROW_BATCH_SECONDS = 0
    (cid,) = await chats_with_a_message(lin)
    checked = []

    async def escalation_reason(**kwargs):
        checked.append(kwargs)

    monkeypatch.setattr(staff_notify, "_escalation_reason", escalation_reason)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.after_answer(cid, status="done", answer_meta=calm_answer())
    row = await row_update(agent)
    await staff_notify.after_answer(cid, status="done")  # no meta: the checks run, as they always did
    await row_update(agent)
    await agent.close()

    assert row["id"] == cid and row["state"] == "bot"
    assert checked == [{"conversation_id": cid, "status": "done", "error": ""}]


async def test_an_angry_player_is_still_handed_to_a_human_after_the_answer(lin, alice, settings):
    settings.STAFF_ROW_BATCH_SECONDS = 0
    (cid,) = await chats_with_a_message(lin)
    angry = {"score": -0.9, "level": "angry", "words": ["scam"], "escalate": True}
    await sync_to_async(message_append)(
        conversation_id=cid, sender="player", text="SCAM!!!", client_id="angry", meta={"sentiment": angry}
    )
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await staff_notify.after_answer(cid, status="done", answer_meta=calm_answer(sentiment=angry))
    row = await row_update(agent)
    await agent.close()

    assert (row["id"], row["state"], row["handoff_reason"]) == (cid, "waiting", "sentiment")


async def test_staff_read_why_the_bot_failed_in_the_chats_history(lin, alice, settings, fake_ernie_thread, demo_kb):
    use_fake_ernie(settings, fake_ernie_thread)
    fake_ernie_thread.script("error_object", error_code=17)  # the daily quota: no retry helps
    agent, player, cid = await watched_asking(alice, lin)
    failed = await player.receive_until(is_end)
    case = await agent.receive_until(lambda f: f.get("type") == "case" and f["conversation"]["state"] == "waiting")
    await player.close()
    await agent.close()

    # The player reads that the assistant is unavailable, not ERNIE's error.
    assert failed[-1]["error"] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    escalated = next(e for e in case["conversation"]["events"] if e["kind"] == "escalated")
    assert escalated["reason"] == "upstream_error"
    assert escalated["data"]["error"] == "ERNIE error 17: Open api daily request limit reached (code 17)"


async def test_staff_read_that_the_llm_flagged_the_players_message_and_the_player_does_not(
    lin, alice, settings, fake_ernie_thread, demo_kb
):
    use_fake_ernie(settings, fake_ernie_thread)
    fake_ernie_thread.script("need_clear_history")
    agent, player, cid = await watched_asking(alice, lin)
    seen = await player.receive_until(is_end)
    note = await agent.receive_until(lambda f: f.get("type") == "message" and f["message"].get("internal"))
    await player.close()
    await agent.close()

    assert note["message"]["text"] == (
        "The LLM's safety check flagged the player's last message; it is left out of what the LLM is sent "
        "from now on. The player read that the bot can't help with that request."
    )
    assert not any(f.get("type") == "message" and f["message"].get("internal") for f in seen)


@pytest.mark.parametrize("hand_back_on", ["another process", "this process"])
async def test_a_hand_back_as_the_stopped_answer_ends_answers_the_question_from_the_players_other_tab(
    lin, alice, demo_kb, settings, monkeypatch, hand_back_on
):
    """Lin's other tab, on another web process, asked while the bot's answer streamed: the question
    waited for it. Alice took the chat over, which stopped the answer, and handed it back while the
    stopped answer's end was being stored: the hand-back's answer found the chat's answer claim
    still held and started nothing (or, on the answer's own process, was left to its job), and the
    stopped answer's job looked for no question after it. Lin's question was never answered."""
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    handed_back = asyncio.Event()
    real_finish = jobs._finish

    async def end_stored_after_the_hand_back(**end):
        if end["status"] == "interrupted":
            await asyncio.wait_for(handed_back.wait(), 10)
        return await real_finish(**end)

    monkeypatch.setattr(jobs, "_finish", end_stored_after_the_hand_back)
    player, cid = await player_chatting(lin)
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await player.say("How do I get a refund?")
    stopped = (await player.receive_until(lambda f: f.get("t") == "d"))[-1]["i"]
    # What the other tab's web process does with Lin's question (chat/consumers.py: _accept).
    other_tab, start = await sync_to_async(jobs._receive_and_start)(
        start=True, player=lin, conversation_id=cid, client_id="other-tab", text="And how long does it take?"
    )
    assert start is None and other_tab.waits
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") == "ok")
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001  # the answer after it, read quickly
    if hand_back_on == "this process":
        await agent.send({"type": "hand_back", "conversation_id": cid})
        await agent.receive_until(lambda f: f.get("type") == "ok")
    else:  # what the staff socket's process does (chat/staff_consumer.py: _act), there
        change = await sync_to_async(handoff.conversation_hand_back)(conversation_id=cid, agent=alice)
        assert change.answer == other_tab.message.pk
        assert await sync_to_async(jobs._start_and_prepare)(cid, change.answer) is None  # the claim is held
    handed_back.set()
    frames = await player.receive_until(lambda f: is_end(f) and f["id"] != stopped)
    await player.close()
    await agent.close()

    answers = await sync_to_async(list)(
        Message.objects.filter(conversation_id=cid, sender="bot").order_by("seq").values_list("reply_to_id", "status")
    )
    assert answers[1:] == [(other_tab.message.pk, "done")] and answers[0][1] == "interrupted"
    assert frames[-1]["status"] == "done"
    chat = await sync_to_async(Conversation.objects.get)(pk=cid)
    assert (chat.state, chat.answer_claim) == ("bot", None)
