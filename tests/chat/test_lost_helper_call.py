"""A helper process that dies during a question's call (csbot/helper_pool.py: HelperDied).

The call stores the question and its answer's row in one transaction and then prepares
the answer, so the helper may die before anything is stored or after both rows are:
either way the player keeps their socket and their message, and the question is answered.
"""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat import consumers, services
from chat.models import Conversation, Message, Player
from chat.streaming import jobs
from csbot.helper_pool import HelperDied
from csbot.runner import runner_name
from tests.chat.socket_client import PlayerSocket, answer_text

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "How do I get a refund?"


@pytest.fixture
def player(demo_kb):
    return Player.objects.create(language="en")


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


def helper_dies_once(monkeypatch, *, after_storing: bool) -> None:
    """The question's next call dies, after its transaction committed or before it began."""
    real = consumers.receive_and_start

    async def dies(**kwargs):
        monkeypatch.setattr(consumers, "receive_and_start", real)
        if after_storing:  # stored, then killed while preparing the answer
            await sync_to_async(jobs._receive_and_start)(**{**kwargs, "player": kwargs["player"]})
        raise HelperDied("helper process 4242 exited during the call")

    monkeypatch.setattr(consumers, "receive_and_start", dies)


async def bot_rows() -> list[Message]:
    return await sync_to_async(list)(Message.objects.filter(sender="bot").order_by("seq"))


@pytest.mark.parametrize("after_storing", [True, False], ids=["after-storing", "before-storing"])
async def test_a_helper_dying_mid_question_keeps_the_socket_and_the_resend_is_answered(
    player, monkeypatch, after_storing
):
    helper_dies_once(monkeypatch, after_storing=after_storing)
    sock = PlayerSocket(player.pk)
    await sock.connect()

    client_id = await sock.say(QUESTION)
    error = await sock.receive()
    assert error["type"] == "error" and error["code"] == "try_again" and error["client_id"] == client_id
    assert error["message"] == "Something went wrong on our side. Your message will be sent again in a moment."

    await sock.say(QUESTION, client_id=client_id)  # what the page does
    frames = await sock.receive_until(is_end)
    await sock.close()

    ack = next(f for f in frames if f.get("type") == "ack")
    assert ack.get("duplicate", False) is after_storing
    (bot,) = await bot_rows()  # one answer, not a second one beside a forgotten row
    assert frames[-1] == {**frames[-1], "id": bot.pk, "status": "done"}
    assert bot.status == "done" and bot.reply_to_id == ack["id"]
    assert bot.text == answer_text(frames, bot.pk) != ""


async def test_the_error_is_in_the_players_language(demo_kb, monkeypatch):
    player = await sync_to_async(Player.objects.create)(language="zh-hans")
    helper_dies_once(monkeypatch, after_storing=False)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("怎么申请退款？")
    error = await sock.receive()
    await sock.close()
    assert error["code"] == "try_again" and "稍后" in error["message"]


async def left_streaming(player: Player, *, runner: str, text: str = "") -> tuple[Message, Message]:
    """A question stored with its answer's row, whose job never started."""

    def store():
        conversation = services.conversation_current(player=player)
        received = services.player_message_receive(
            player=player, conversation_id=conversation.pk, client_id="asked", text=QUESTION, with_answer=True
        )
        Message.objects.filter(pk=received.reply.pk).update(text=text, meta={"runner": runner})
        return received.message, Message.objects.get(pk=received.reply.pk)

    return await sync_to_async(store)()


async def test_a_resend_whose_answer_had_streamed_text_fails_it_at_once_and_tells_the_player(player):
    question, answer = await left_streaming(player, runner=runner_name(), text="To get a refund, first")
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say(QUESTION, client_id="asked")
    frames = await sock.receive_until(is_end)
    await sock.close()

    end = frames[-1]
    assert end["id"] == answer.pk and end["status"] == "failed" and end["n"] == len("To get a refund, first")
    assert end["error"].startswith("The answer was cut off by a problem on our side.")
    await sync_to_async(answer.refresh_from_db)()
    assert answer.status == "failed"


async def test_a_resend_leaves_an_answer_that_another_process_runs_to_it(player):
    """That process's registry alone knows whether its job runs (or its sweep fails it)."""
    _, answer = await left_streaming(player, runner="other-host:17:cafe")
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say(QUESTION, client_id="asked")
    ack = await sock.receive()
    assert await sock.comm.receive_nothing(timeout=0.5)
    await sock.close()

    assert ack["type"] == "ack" and ack["duplicate"] is True
    await sync_to_async(answer.refresh_from_db)()
    assert answer.status == "streaming" and await bot_rows() == [answer]
    assert await sync_to_async(Conversation.objects.count)() == 1
