"""A player as a real network client: HTTP for the page (and its cookie), then the WebSocket."""

from __future__ import annotations

import json
import urllib.request
import uuid
from http.cookies import SimpleCookie

import websockets


def player_cookie(base_url: str, query: str = "") -> str:
    """Open the player page like a browser and keep the cookie it sets."""
    with urllib.request.urlopen(f"{base_url}/{query}", timeout=10) as response:
        cookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie"):
            cookie.load(header)
    return "; ".join(f"{k}={v.value}" for k, v in cookie.items())


class NetPlayer:
    def __init__(self, base_url: str, cookie: str) -> None:
        self.base_url = base_url
        self.cookie = cookie
        self.ws = None

    async def __aenter__(self) -> NetPlayer:
        ws_url = self.base_url.replace("http://", "ws://") + "/ws/chat/"
        self.ws = await websockets.connect(
            ws_url, additional_headers={"Cookie": self.cookie}, origin=self.base_url, open_timeout=10
        )
        self.welcome = await self.receive()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def say(self, text: str) -> str:
        client_id = str(uuid.uuid4())
        await self.send({"type": "send", "client_id": client_id, "text": text})
        return client_id

    async def receive(self, timeout: float = 15) -> dict:
        import asyncio

        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def receive_until(self, predicate, timeout: float = 15) -> list[dict]:
        frames = []
        while True:
            frames.append(await self.receive(timeout))
            if predicate(frames[-1]):
                return frames
