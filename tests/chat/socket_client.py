"""A player's socket in tests: Channels' communicator with the player's cookie."""

from __future__ import annotations

import json
import uuid

from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat.identity import player_cookie_value


class PlayerSocket:
    def __init__(self, player_id: int) -> None:
        from csbot.asgi import application

        cookie = f"{settings.PLAYER_COOKIE_NAME}={player_cookie_value(player_id)}"
        self.comm = WebsocketCommunicator(
            application,
            "/ws/chat/",
            headers=[(b"cookie", cookie.encode()), (b"origin", b"http://localhost"), (b"host", b"localhost")],
        )

    async def connect(self) -> dict:
        connected, _ = await self.comm.connect()
        assert connected
        return await self.receive()

    async def send(self, frame: dict | str) -> None:
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def say(self, text: str, client_id: str | None = None) -> str:
        client_id = client_id or str(uuid.uuid4())
        await self.send({"type": "send", "client_id": client_id, "text": text})
        return client_id

    async def receive(self, timeout: float = 5) -> dict:
        return json.loads(await self.comm.receive_from(timeout=timeout))

    async def receive_until(self, predicate, timeout: float = 10) -> list[dict]:
        """Every frame up to and including the first one that matches."""
        frames = []
        while True:
            frame = await self.receive(timeout)
            frames.append(frame)
            if predicate(frame):
                return frames

    async def close(self) -> None:
        await self.comm.disconnect()


def is_delta(frame: dict) -> bool:
    """A delta is the one compact frame: {"t": "d", "i": message id, "o": offset, "d": text}."""
    return frame.get("t") == "d"


def answer_text(frames: list[dict], message_id: int) -> str:
    """The answer as the browser would assemble it from message + delta frames."""
    text = ""
    for frame in frames:
        if frame.get("type") == "message" and frame["message"]["id"] == message_id:
            text = frame["message"].get("text", "")  # an answer that starts streaming has no text yet
        elif is_delta(frame) and frame["i"] == message_id:
            assert frame["o"] <= len(text), f"gap: offset {frame['o']} beyond {len(text)}"
            text += frame["d"][len(text) - frame["o"] :]
    return text
