"""The lines the player reads after the bot's answers speak the chat's language, not the page's.

A player on the English page who writes Chinese reads the bot's answers in Chinese; the
lines that follow them (in the queue, an agent joining, the chat handed back, closed, and
the rating card the close brings) are in Chinese too, and the other way round. Through the
player's and the agent's sockets (Channels' communicator) on the embedded default.
The cast: Lin, a player, and Alice, an agent.
"""

from __future__ import annotations

import pytest

from chat.models import Conversation, Message, Player
from chat.services import message_append
from chat.staff_selectors import case_of
from tests.chat.socket_client import PlayerSocket
from tests.chat.staff_client import StaffSocket

pytestmark = pytest.mark.django_db(transaction=True)

IN_CHINESE = {
    "waiting": "您已进入人工客服排队，客服很快就来。",
    "taken_over": "Alice 已加入对话。",
    "handed_back": "现在由智能助手继续为您服务。",
    "closed": "本次对话已结束。如需帮助，随时发消息即可开始新的对话。",
}
IN_ENGLISH = {
    "waiting": "You are in the queue for a support agent. We'll be with you soon.",
    "taken_over": "Alice has joined the chat.",
    "handed_back": "You are chatting with our assistant again.",
    "closed": "This chat has been closed. Write again any time to start a new one.",
}


async def system_line(player: PlayerSocket, event: str) -> str:
    frames = await player.receive_until(
        lambda f: f.get("type") == "message" and f["message"].get("event") == event, timeout=15
    )
    return frames[-1]["message"]["text"]


@pytest.mark.parametrize(
    ("page", "question", "chat", "lines"),
    [
        ("en", "我的充值没到账怎么办", "zh-hans", IN_CHINESE),
        ("zh-hans", "my top-up didn't arrive, what do I do", "en", IN_ENGLISH),
    ],
)
async def test_the_lines_after_the_answers_speak_the_language_the_player_writes(alice, page, question, chat, lines):
    lin = await Player.objects.acreate(game_player_id="10086", display_name="Lin", language=page)
    player = PlayerSocket(lin.pk)
    conversation_id = (await player.connect())["conversation"]["id"]
    agent = await StaffSocket.of(alice)
    await agent.connect()  # online: the player waits in the queue for her
    await player.say(question)
    await player.receive_until(lambda f: f.get("type") == "end", timeout=15)

    await player.send({"type": "handoff"})
    seen = {"waiting": await system_line(player, "waiting")}
    for frame, event in (("take_over", "taken_over"), ("hand_back", "handed_back"), ("take_over", "taken_over")):
        await agent.send({"type": frame, "conversation_id": conversation_id})
        seen[event] = await system_line(player, event)
    await agent.send({"type": "close", "conversation_id": conversation_id})
    closed = await player.receive_until(lambda f: f.get("type") == "state" and f["state"] == "closed")
    seen["closed"] = await system_line(player, "closed")
    await player.close()
    await agent.close()
    # Back later, the player finds the closed chat's end and its rating card again.
    back = PlayerSocket(lin.pk)
    previous = (await back.connect())["previous"]
    await back.close()

    assert seen == lines
    # The rating card under the close asks in the same language, also when shown again.
    assert closed[-1]["language"] == chat
    assert (previous["id"], previous["language"]) == (conversation_id, chat)


@pytest.mark.parametrize(
    ("page", "question", "chat"),
    [("en", "我的充值没到账怎么办", "zh-hans"), ("zh-hans", "my top-up didn't arrive, what do I do", "en")],
)
def test_the_case_tells_the_agent_the_language_the_player_writes(page, question, chat):
    """A player on the English page who wrote Chinese: the case said "Language: English", and
    the agent wrote in English to a player whom the bot and every line of the chat answer in
    Chinese (and the other way round)."""
    lin = Player.objects.create(game_player_id="10086", display_name="Lin", language=page)
    conversation = Conversation.objects.create(player=lin)
    message_append(conversation_id=conversation.pk, sender=Message.Sender.PLAYER, text=question)

    assert case_of(conversation.pk)["player"]["language"] == chat
