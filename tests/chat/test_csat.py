"""When a chat closes, the player is asked for a rating in the chat."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from analytics.models import CsatRating
from tests.chat.socket_client import PlayerSocket
from tests.chat.staff_client import StaffSocket

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_player_rates_the_chat_an_agent_closed(lin, alice):
    player = PlayerSocket(lin.pk)
    welcome = await player.connect()
    conversation_id = welcome["conversation"]["id"]
    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "close", "conversation_id": conversation_id})
    await player.receive_until(lambda f: f.get("type") == "state" and f["state"] == "closed")

    await player.send({"type": "csat", "conversation_id": conversation_id, "score": 4, "comment": " quick help "})
    thanks = (await player.receive_until(lambda f: f.get("type") == "csat_thanks"))[-1]
    await player.close()
    await agent.close()

    assert thanks == {"type": "csat_thanks", "conversation_id": conversation_id}
    rating = await sync_to_async(CsatRating.objects.get)(conversation_id=conversation_id)
    assert (rating.score, rating.comment) == (4, "quick help")


async def test_an_open_chat_or_another_players_chat_cannot_be_rated(lin, kai):
    other = PlayerSocket(kai.pk)
    kais_conversation = (await other.connect())["conversation"]["id"]
    await other.close()

    player = PlayerSocket(lin.pk)
    own_conversation = (await player.connect())["conversation"]["id"]
    for conversation_id in (own_conversation, kais_conversation):
        await player.send({"type": "csat", "conversation_id": conversation_id, "score": 5})
        refused = await player.receive()
        assert refused["type"] == "error" and refused["code"] == "csat_refused"
    await player.send({"type": "csat", "conversation_id": own_conversation, "score": 9})
    assert (await player.receive())["code"] == "bad_frame"
    await player.close()
    assert not await sync_to_async(CsatRating.objects.exists)()


async def an_agent_replies_and_closes_while_the_player_is_away(player, agent_user) -> int:
    """The player asked, went away; an agent took the chat, replied and closed it."""
    sock = PlayerSocket(player.pk)
    conversation_id = (await sock.connect())["conversation"]["id"]
    await sock.say("I want to talk to a human")
    await sock.receive_until(lambda f: f.get("type") == "ack")
    await sock.close()
    agent = await StaffSocket.of(agent_user)
    await agent.connect()
    for frame in (
        {"type": "take_over", "conversation_id": conversation_id},
        {"type": "send", "conversation_id": conversation_id, "client_id": "reply", "text": "Your gems are back."},
        {"type": "close", "conversation_id": conversation_id},
    ):
        await agent.send(frame)
        await agent.receive_until(lambda f: f.get("type") in ("ok", "ack"))
    await agent.close()
    return conversation_id


async def test_a_player_away_when_the_chat_closed_comes_back_to_its_end_and_the_rating(lin, alice):
    closed_id = await an_agent_replies_and_closes_while_the_player_is_away(lin, alice)

    player = PlayerSocket(lin.pk)
    welcome = await player.connect()
    previous = welcome["previous"]
    assert welcome["conversation"]["id"] != closed_id and previous["id"] == closed_id
    assert previous["rated"] is False
    lines = [(m["sender"], m.get("text")) for m in previous["messages"]]
    assert lines[0] == ("player", "I want to talk to a human")  # from before the agent joined
    assert ("agent", "Your gems are back.") in lines
    assert previous["messages"][-1]["sender"] == "system" and previous["messages"][-1]["event"] == "closed"

    await player.send({"type": "csat", "conversation_id": closed_id, "score": 5})
    await player.receive_until(lambda f: f.get("type") == "csat_thanks")
    await player.close()
    again = PlayerSocket(lin.pk)
    assert (await again.connect())["previous"]["rated"] is True
    await again.close()


async def test_a_chat_closed_long_ago_or_a_new_chat_under_way_brings_no_previous(lin, alice, settings):
    await an_agent_replies_and_closes_while_the_player_is_away(lin, alice)
    player = PlayerSocket(lin.pk)
    await player.connect()
    await player.say("Another question")
    await player.receive_until(lambda f: f.get("type") == "ack")
    await player.close()
    again = PlayerSocket(lin.pk)
    assert "previous" not in await again.connect()  # they have moved on to the new chat
    await again.close()

    settings.CLOSED_CHAT_SHOWN_SECONDS = 0
    await an_agent_replies_and_closes_while_the_player_is_away(lin, alice)
    late = PlayerSocket(lin.pk)
    assert "previous" not in await late.connect()
    await late.close()
