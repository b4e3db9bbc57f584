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
