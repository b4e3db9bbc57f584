"""Our sockets dispatch like Channels does, without its per-event hop to the sync thread (chat/socket_base.py)."""

from __future__ import annotations

import inspect

import pytest
from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from chat.models import Player
from tests.chat.socket_client import PlayerSocket, answer_text

pytestmark = pytest.mark.django_db(transaction=True)


def test_channels_still_dispatches_the_way_socket_base_copies():
    # socket_base.SocketConsumer repeats these two methods minus aclose_old_connections;
    # when Channels changes them, re-read them and update the copy.
    dispatch = inspect.getsource(AsyncConsumer.dispatch)
    disconnect = inspect.getsource(AsyncWebsocketConsumer.websocket_disconnect)
    assert "await aclose_old_connections()\n            await handler(message)" in dispatch
    assert 'await self.disconnect(message["code"])\n        await aclose_old_connections()' in disconnect


async def test_a_chat_never_sweeps_connections_on_the_sync_thread(demo_kb, monkeypatch):
    swept = []

    async def sweep():
        swept.append(1)

    monkeypatch.setattr("channels.consumer.aclose_old_connections", sweep)
    monkeypatch.setattr("channels.generic.websocket.aclose_old_connections", sweep)
    player = await Player.objects.acreate(language="en")
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("How do I reset my password?")
    frames = await sock.receive_until(lambda f: f.get("type") == "end")
    await sock.close()

    assert frames[-1]["status"] == "done" and answer_text(frames, frames[-1]["id"])
    assert swept == []
