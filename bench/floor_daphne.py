"""The floor on csbot's server: bench/floor.py's relay as a bare Channels consumer under daphne.

The issue names the stack (Channels 4 on daphne), so part of what csbot costs
above bench/floor.py is the stack's, not csbot's: autobahn's WebSocket framing
on twisted, daphne's ASGI bridge, a Channels consumer's dispatch. This system
is that part alone. It relays exactly as the floor does (one shared aiohttp
session, one frame per upstream chunk, the same frames) from a consumer on
csbot's socket base (chat/socket_base.py: Channels' `AsyncWebsocketConsumer`
without its thread hop per event), with no database, no channel layer and no
Django project, served the way csbot is (`python -m csbot.serve`: daphne on uvloop,
eager writes, lazy debug lines):

    python -m csbot.serve -b 127.0.0.1 -p 8912 bench.floor_daphne:application

with ``FLOOR_UPSTREAM`` naming the upstream (bench/run.py's ``floor-daphne``).
csbot against it is what csbot's own features cost; it against the floor is
what the stack costs.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from django.conf import settings

if not settings.configured:
    # No channel layer (get_channel_layer() is None: no group, no per-consumer channel),
    # no apps, no database: Channels' consumer needs settings to exist, nothing more.
    settings.configure(DEBUG=False, USE_TZ=True, CHANNEL_LAYERS={})

from chat.socket_base import SocketConsumer  # noqa: E402  the consumer base csbot's sockets use

sys.path.insert(0, str(Path(__file__).resolve().parent))
from floor import Relay  # noqa: E402

_relay: Relay | None = None
_relay_ready: asyncio.Lock | None = None


async def relay() -> Relay:
    """The process's one relay, its session and token made on the first connection (on daphne's loop)."""
    global _relay, _relay_ready
    if _relay_ready is None:
        _relay_ready = asyncio.Lock()
    async with _relay_ready:
        if _relay is None:
            started = Relay(os.environ.get("FLOOR_UPSTREAM", "http://127.0.0.1:8900"))
            await started.start()
            _relay = started
    return _relay


class FloorConsumer(SocketConsumer):
    async def connect(self) -> None:
        self.relay = await relay()
        self.tasks: set[asyncio.Task] = set()
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        frame = json.loads(text_data or "{}")
        kind = frame.get("type")
        if kind == "resume":
            await self.send(text_data='{"type":"resumed","seq":0}')
        elif kind == "send":
            await self.send(text_data=json.dumps({"type": "ack", "client_id": frame["client_id"]}))
            # In a task, as in csbot: a consumer handles one event at a time.
            # Relay.answer writes with `send(text)`: the consumer's own send takes the text first.
            task = asyncio.create_task(self.relay.answer(self, frame["text"]))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif kind == "ping":
            await self.send(text_data='{"type":"pong"}')

    async def disconnect(self, code: int) -> None:
        for task in self.tasks:
            task.cancel()


_consumer = FloorConsumer.as_asgi()


async def application(scope, receive, send) -> None:
    if scope["type"] == "websocket":
        await _consumer(scope, receive, send)
    elif scope["type"] == "http":  # bench/run.py's readiness check: 404 says "no /readyz, the port is all"
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"not found"})
