"""A staff member as a real network client: sign in over HTTP, then the staff socket."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import requests
import websockets


def staff_login(base_url: str, username: str, password: str) -> str:
    """Sign in through the login form like a browser; the Cookie header of the session."""
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/?next=/staff/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token, "next": "/staff/"}
    response = session.post(f"{base_url}/accounts/login/", data=form, timeout=10, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == "/staff/", response.text[:300]
    return "; ".join(f"{k}={v}" for k, v in session.cookies.items())


class NetStaff:
    def __init__(self, base_url: str, cookie: str) -> None:
        self.base_url = base_url
        self.cookie = cookie
        self.ws = None

    async def __aenter__(self) -> NetStaff:
        url = self.base_url.replace("http://", "ws://") + "/ws/staff/"
        self.ws = await websockets.connect(
            url, additional_headers={"Cookie": self.cookie}, origin=self.base_url, open_timeout=10
        )
        self.hello = await self.receive_until(lambda f: f.get("type") == "hello")
        return self

    async def __aexit__(self, *exc) -> None:
        await self.ws.close()

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def say(self, conversation_id: int, text: str) -> str:
        client_id = str(uuid.uuid4())
        await self.send({"type": "send", "conversation_id": conversation_id, "client_id": client_id, "text": text})
        return client_id

    async def receive(self, timeout: float = 15) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def receive_until(self, predicate, timeout: float = 15) -> dict:
        while True:
            frame = await self.receive(timeout)
            if predicate(frame):
                return frame

    async def collect_until(self, predicate, timeout: float = 15) -> list[dict]:
        frames = []
        while True:
            frames.append(await self.receive(timeout))
            if predicate(frames[-1]):
                return frames
