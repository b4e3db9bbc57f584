"""The player's socket, through Channels' communicator, on the embedded default."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.sync import sync_to_async

from chat import services
from chat.models import Conversation, Message, Player
from tests.chat.socket_client import PlayerSocket, answer_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def player(demo_kb):
    return Player.objects.create(language="zh-hans")


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


async def test_a_socket_without_the_player_cookie_is_refused():
    from channels.testing import WebsocketCommunicator

    from csbot.asgi import application

    comm = WebsocketCommunicator(application, "/ws/chat/", headers=[(b"origin", b"http://localhost")])
    connected, code = await comm.connect()
    assert not connected


async def test_a_question_is_acknowledged_and_answered_in_ordered_deltas(player):
    sock = PlayerSocket(player.pk)
    welcome = await sock.connect()
    assert welcome["type"] == "welcome" and welcome["conversation"]["state"] == "bot"

    client_id = await sock.say("充值没有到账怎么办？")
    frames = await sock.receive_until(is_end)
    await sock.close()

    ack = next(f for f in frames if f.get("type") == "ack")
    assert ack == {"type": "ack", "client_id": client_id, "id": ack["id"], "seq": 1}  # `duplicate` only when true
    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    assert bot["seq"] == 2 and bot["status"] == "streaming" and "text" not in bot  # starts empty: no text
    deltas = [f for f in frames if f.get("t") == "d"]
    assert len(deltas) > 1
    assert all(set(d) == {"t", "i", "o", "d"} and d["i"] == bot["id"] for d in deltas)  # the compact form
    offsets = [d["o"] for d in deltas]
    assert offsets == sorted(offsets) and offsets[0] == 0
    end = frames[-1]
    assert end["status"] == "done" and end["sources"]

    text = answer_text(frames, bot["id"])
    stored = await sync_to_async(Message.objects.get)(pk=bot["id"])
    assert stored.text == text and stored.status == "done" and stored.ttft_ms is not None


async def test_a_question_sent_while_the_answer_streams_is_answered_next(player, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没有到账怎么办？")
    first = await sock.receive_until(lambda f: f.get("t") == "d")
    await sock.say("怎么申请退款？")
    frames = first + await sock.receive_until(is_end)
    frames += await sock.receive_until(is_end)
    await sock.close()

    bots = [f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot"]
    assert [bot["seq"] for bot in bots] == [2, 4]  # each answer after its question, one at a time
    ends = [f for f in frames if is_end(f)]
    assert [end["status"] for end in ends] == ["done", "done"]
    stored = await sync_to_async(list)(Message.objects.filter(sender="bot").order_by("seq").values("reply_to__seq"))
    assert stored == [{"reply_to__seq": 1}, {"reply_to__seq": 3}]


async def test_a_question_from_another_tab_is_answered_when_the_question_it_waited_for_needs_none(player, monkeypatch):
    # Tab A resends a stored question (no new answer) while tab B asks a new one: B's
    # question waits for A's claim on the next answer, and must not wait for ever.
    resend_held, go_on = threading.Event(), threading.Event()
    receive = services.player_message_receive

    def held(**kwargs):
        if kwargs["client_id"] == "asked-before":
            resend_held.set()
            go_on.wait(10)
        return receive(**kwargs)

    tab_a, tab_b = PlayerSocket(player.pk), PlayerSocket(player.pk)
    await tab_a.connect()
    await tab_b.connect()
    await tab_a.say("充值没有到账怎么办？", client_id="asked-before")
    await tab_a.receive_until(is_end)
    await tab_b.receive_until(is_end)
    monkeypatch.setattr(services, "player_message_receive", held)

    await tab_a.say("充值没有到账怎么办？", client_id="asked-before")
    assert await asyncio.to_thread(resend_held.wait, 10)
    await tab_b.say("怎么申请退款？", client_id="new-question")
    ack = (await tab_b.receive_until(lambda f: f.get("type") == "ack"))[-1]
    go_on.set()
    again = (await tab_a.receive_until(lambda f: f.get("type") == "ack"))[-1]
    frames = await tab_b.receive_until(is_end)
    await tab_a.close()
    await tab_b.close()

    assert again["duplicate"] is True
    assert frames[-1]["status"] == "done"
    answer = await sync_to_async(Message.objects.get)(pk=frames[-1]["id"])
    assert answer.reply_to_id == ack["id"]


async def test_the_sending_tab_has_its_ack_and_the_other_tab_gets_the_message_and_the_same_answer(player):
    sending, other = PlayerSocket(player.pk), PlayerSocket(player.pk)
    await sending.connect()
    await other.connect()

    client_id = await sending.say("充值没有到账怎么办？")
    mine = await sending.receive_until(is_end)
    theirs = await other.receive_until(is_end)
    await sending.close()
    await other.close()

    def player_messages(frames):
        return [f for f in frames if f.get("type") == "message" and f["message"]["sender"] == "player"]

    ack = next(f for f in mine if f.get("type") == "ack")
    assert player_messages(mine) == []  # no echo: the ack confirms it
    [echo] = player_messages(theirs)
    assert echo["message"]["id"] == ack["id"] and echo["message"]["client_id"] == client_id
    assert not any(f.get("type") == "ack" for f in theirs)
    bot_id = next(f["message"]["id"] for f in mine if f.get("type") == "message")
    assert answer_text(mine, bot_id) == answer_text(theirs, bot_id) != ""


async def test_a_resent_client_id_is_stored_once_and_acknowledged_again(player):
    sock = PlayerSocket(player.pk)
    await sock.connect()
    client_id = await sock.say("how do I reset my password")
    await sock.receive_until(is_end)
    await sock.say("how do I reset my password", client_id=client_id)
    ack = await sock.receive()
    await sock.close()

    assert ack["type"] == "ack" and ack["duplicate"] is True and ack["seq"] == 1
    count = await sync_to_async(Message.objects.filter(sender="player").count)()
    assert count == 1


async def test_reconnecting_mid_answer_resumes_without_loss_or_doubling(player, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.05
    first = PlayerSocket(player.pk)
    await first.connect()
    await first.say("我的账号被封了，怎么申诉？")
    frames = await first.receive_until(lambda f: f.get("t") == "d" and f["o"] > 0)
    bot_id = next(f["message"]["id"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    have = len(answer_text(frames, bot_id))
    await first.close()  # the connection drops mid-answer

    second = PlayerSocket(player.pk)
    await second.connect()
    await second.send({"type": "resume", "after_seq": 2, "streams": {str(bot_id): have}})
    resumed = await second.receive_until(is_end)
    await second.close()

    text = answer_text(frames + resumed, bot_id)
    stored = await sync_to_async(Message.objects.get)(pk=bot_id)
    assert stored.status == "done"
    assert text == stored.text


async def test_a_fresh_page_gets_the_whole_history_on_resume(player):
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("How do I get a refund?")
    await sock.receive_until(is_end)
    await sock.close()

    again = PlayerSocket(player.pk)
    await again.connect()
    await again.send({"type": "resume", "after_seq": 0, "streams": {}})
    frames = await again.receive_until(lambda f: f.get("type") == "resumed")
    await again.close()
    messages = [f["message"] for f in frames if f.get("type") == "message"]
    assert [m["sender"] for m in messages] == ["player", "bot"]
    assert messages[1]["status"] == "done" and messages[1]["text"]
    assert frames[-1] == {"type": "resumed", "seq": 2}


async def test_the_answer_is_saved_when_the_player_leaves_mid_answer(player, settings):
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.02
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("How do I report a bug?")
    await sock.receive_until(lambda f: f.get("t") == "d")
    await sock.close()

    import asyncio

    from chat.streaming.jobs import registry

    for task in list(registry().tasks.values()):
        await asyncio.wait_for(task, 10)
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert bot.status == "done" and len(bot.text) > 20


@pytest.mark.parametrize(
    "frame, code",
    [
        ("not json", "bad_frame"),
        ('{"type": "launch_missiles"}', "bad_frame"),
        ('{"type": "send", "client_id": "c1", "text": "   "}', "empty"),
    ],
)
async def test_a_malformed_frame_gets_a_clear_error_and_staff_see_it(player, frame, code):
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.send(frame)
    error = await sock.receive()
    await sock.send({"type": "ping"})
    pong = await sock.receive()
    await sock.close()

    assert error["type"] == "error" and error["code"] == code and error["message"]
    assert pong == {"type": "pong"}  # the connection stays usable
    note = await sync_to_async(Message.objects.get)(internal=True)
    assert note.sender == "system" and note.meta["event"] == code


async def test_an_oversized_message_is_refused_but_kept_for_staff(player, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 50
    sock = PlayerSocket(player.pk)
    await sock.connect()
    long_text = "我的充值一直没有到账" * 10
    await sock.say(long_text, client_id="c-long")
    error = await sock.receive()
    await sock.close()

    assert error["code"] == "too_long" and error["client_id"] == "c-long"
    assert "50" in error["message"]
    note = await sync_to_async(Message.objects.get)(internal=True)
    assert long_text in note.text
    assert not await sync_to_async(Message.objects.filter(sender="player").exists)()


async def test_a_message_after_the_chat_closed_opens_a_new_conversation(player):
    sock = PlayerSocket(player.pk)
    welcome = await sock.connect()
    await sync_to_async(Conversation.objects.filter(pk=welcome["conversation"]["id"]).update)(state="closed")
    await sock.say("hello again, refund question")
    frames = await sock.receive_until(is_end)
    await sock.close()

    new_welcome = next(f for f in frames if f.get("type") == "welcome")
    assert new_welcome["conversation"]["id"] != welcome["conversation"]["id"]
    assert next(f for f in frames if f.get("type") == "ack")["seq"] == 1


async def test_a_quick_reply_for_an_intent_the_admin_named_with_capitals_is_sent_like_any_other(player):
    from agents.models import Intent

    await sync_to_async(Intent.objects.create)(
        name="VIP-Support", examples="VIP support", label_en="VIP support", label_zh="VIP 专线"
    )
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.send({"type": "send", "client_id": "c-vip", "text": "VIP 专线", "intent": "VIP-Support"})
    ack = await sock.receive()
    await sock.receive_until(is_end)
    await sock.close()

    assert ack["type"] == "ack" and ack["client_id"] == "c-vip"
    clicked = await sync_to_async(Message.objects.get)(pk=ack["id"])
    assert clicked.text == "VIP 专线" and clicked.meta["intent"] == "VIP-Support"


async def test_a_message_with_a_malformed_intent_is_refused_and_staff_read_its_words(player):
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.send({"type": "send", "client_id": "c-odd", "text": "充值没到账", "intent": "充值 问题"})
    error = await sock.receive()
    await sock.close()

    assert error["code"] == "bad_frame" and error["client_id"] == "c-odd"  # the page gives the text back
    note = await sync_to_async(Message.objects.get)(internal=True)
    assert note.text == "Rejected a message with a malformed intent '充值 问题':\n充值没到账"
