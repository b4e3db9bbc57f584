"""A staff dashboard's socket in tests: Channels' communicator with a logged-in session."""

from __future__ import annotations

import json
import uuid

from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client


def session_cookie(user) -> str:
    """The session cookie of `user` after a login (sync: ORM)."""
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


class StaffSocket:
    def __init__(self, cookie: str = "") -> None:
        from csbot.asgi import application

        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        self.comm = WebsocketCommunicator(application, "/ws/staff/", headers=headers)

    @classmethod
    async def of(cls, user) -> StaffSocket:
        return cls(await sync_to_async(session_cookie)(user))

    async def connect(self) -> dict:
        """Connect and return the `hello` frame."""
        connected, _ = await self.comm.connect()
        assert connected
        return await self.receive_until(lambda f: f.get("type") == "hello")

    async def refused_with(self) -> int:
        """Connect a socket that must be refused; the close code it got."""
        connected, _ = await self.comm.connect()
        assert connected  # accepted, then closed: browsers only see codes of accepted sockets
        out = await self.comm.receive_output(timeout=5)
        assert out["type"] == "websocket.close", out
        return out["code"]

    async def closed_with(self, timeout: float = 5) -> int:
        """The close code an open socket gets, skipping the frames before it."""
        while True:
            out = await self.comm.receive_output(timeout=timeout)
            if out["type"] == "websocket.close":
                return out["code"]

    async def send(self, frame: dict) -> None:
        await self.comm.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 5) -> dict:
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def receive_until(self, predicate, timeout: float = 10) -> dict:
        """The first frame that matches, skipping others."""
        while True:
            frame = await self.receive(timeout)
            if predicate(frame):
                return frame

    async def collect_until(self, predicate, timeout: float = 10) -> list[dict]:
        frames = []
        while True:
            frames.append(await self.receive(timeout))
            if predicate(frames[-1]):
                return frames

    async def watch(self, conversation_id: int) -> list[dict]:
        """Open a conversation: its case, then its history up to `resumed`."""
        await self.send({"type": "watch", "conversation_id": conversation_id, "after_seq": 0, "streams": {}})
        return await self.collect_until(lambda f: f.get("type") == "resumed")

    async def say(self, conversation_id: int, text: str) -> str:
        client_id = str(uuid.uuid4())
        await self.send({"type": "send", "conversation_id": conversation_id, "client_id": client_id, "text": text})
        return client_id

    async def close(self) -> None:
        await self.comm.disconnect()
