"""Checking the frames a player's browser sends (docs/protocol.md)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

CLIENT_TYPES = {"send", "resume", "ping"}


class FrameError(Exception):
    def __init__(self, code: str, staff_note: str, *, client_id: str | None = None) -> None:
        super().__init__(staff_note)
        self.code = code
        self.staff_note = staff_note
        self.client_id = client_id


def _preview(raw: str, limit: int = 200) -> str:
    return raw if len(raw) <= limit else raw[:limit] + "…"


def parse_client_frame(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """Return a normalised frame or raise FrameError saying what was wrong."""
    if text_data is None:
        raise FrameError("bad_frame", f"Rejected a binary frame of {len(bytes_data or b'')} bytes.")
    if len(text_data.encode("utf-8", "surrogatepass")) > settings.CHAT_MAX_FRAME_BYTES:
        raise FrameError("too_large", f"Rejected a frame of {len(text_data)} characters: {_preview(text_data)}")
    try:
        frame = json.loads(text_data)
    except ValueError:
        raise FrameError("bad_frame", f"Rejected a frame that is not JSON: {_preview(text_data)}") from None
    if not isinstance(frame, dict) or frame.get("type") not in CLIENT_TYPES:
        raise FrameError("bad_frame", f"Rejected a frame of unknown type: {_preview(text_data)}")
    return {"send": _send, "resume": _resume, "ping": lambda f: f}[frame["type"]](frame)


def _send(frame: dict) -> dict:
    client_id, text = frame.get("client_id"), frame.get("text")
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise FrameError("bad_frame", "Rejected a message without a valid client_id.")
    if not isinstance(text, str):
        raise FrameError("bad_frame", "Rejected a message without text.", client_id=client_id)
    text = text.strip()
    if not text:
        raise FrameError("empty", "Rejected an empty message.", client_id=client_id)
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        # The whole text goes into the staff note: the player's words are never lost.
        raise FrameError(
            "too_long",
            f"Rejected a message of {len(text)} characters (limit {settings.CHAT_MAX_MESSAGE_CHARS}):\n{text}",
            client_id=client_id,
        )
    return {"type": "send", "client_id": client_id, "text": text}


def _resume(frame: dict) -> dict:
    after_seq, streams = frame.get("after_seq", 0), frame.get("streams") or {}
    if not isinstance(after_seq, int) or after_seq < 0 or not isinstance(streams, dict) or len(streams) > 50:
        raise FrameError("bad_frame", "Rejected a malformed resume frame.")
    try:
        parsed = {int(k): int(v) for k, v in streams.items()}
    except (TypeError, ValueError):
        raise FrameError("bad_frame", "Rejected a malformed resume frame.") from None
    if any(v < 0 for v in parsed.values()):
        raise FrameError("bad_frame", "Rejected a malformed resume frame.")
    return {"type": "resume", "after_seq": after_seq, "streams": parsed}
