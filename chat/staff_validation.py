"""Checking the frames a staff dashboard sends (docs/protocol.md, Staff socket)."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings

from chat.models import AgentProfile
from chat.staff_selectors import FILTERS
from chat.validation import FrameError, _resume

# type -> the fields it needs besides `type`
STAFF_TYPES: dict[str, tuple[str, ...]] = {
    "ping": (),
    "list": (),
    "agents": (),
    "status": ("status",),
    "watch": ("conversation_id",),
    "unwatch": (),
    "case": ("conversation_id",),
    "resume": (),
    "take_over": ("conversation_id",),
    "hand_back": ("conversation_id",),
    "close": ("conversation_id",),
    "transfer": ("conversation_id", "to"),
    "send": ("conversation_id", "client_id", "text"),
    "note": ("conversation_id", "text"),
    "typing": ("conversation_id",),
}
_IDS = ("conversation_id", "to")


def parse_staff_frame(text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
    """Return a normalised frame or raise FrameError saying what was wrong."""
    if text_data is None:
        raise FrameError("bad_frame", "binary frame")
    if len(text_data.encode("utf-8", "surrogatepass")) > settings.CHAT_MAX_FRAME_BYTES:
        raise FrameError("too_large", "frame too large")
    try:
        frame = json.loads(text_data)
    except ValueError:
        raise FrameError("bad_frame", "not JSON") from None
    if not isinstance(frame, dict) or frame.get("type") not in STAFF_TYPES:
        raise FrameError("bad_frame", "unknown type")
    kind = frame["type"]
    for name in STAFF_TYPES[kind]:
        if name not in frame:
            raise FrameError("bad_frame", f"{kind} needs {name}")
    for name in _IDS:
        if name in STAFF_TYPES[kind] and (not isinstance(frame[name], int) or isinstance(frame[name], bool)):
            raise FrameError("bad_frame", f"{name} must be an integer")
    out = {k: frame[k] for k in STAFF_TYPES[kind]}
    out["type"] = kind
    if kind in ("send", "note"):
        # The client id first: a refused text's error names it, so the page knows which text to keep.
        out["client_id"] = _client_id(frame.get("client_id"), required=kind == "send")
        out["text"] = _text(frame["text"], out["client_id"])
    elif kind == "list":
        out["filter"] = frame.get("filter") if frame.get("filter") in FILTERS else "open"
        q = frame.get("q")
        out["q"] = q.strip()[:100] if isinstance(q, str) else ""
    elif kind == "status" and frame["status"] not in AgentProfile.Status.values:
        raise FrameError("bad_frame", "unknown status")
    elif kind in ("watch", "resume"):
        out.update(_resume({"after_seq": frame.get("after_seq", 0), "streams": frame.get("streams")}))
        out["type"] = kind
    return out


def _text(text: Any, client_id: str | None) -> str:
    if not isinstance(text, str) or not text.strip():
        raise FrameError("empty", "empty text", client_id=client_id)
    text = text.strip()
    if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
        raise FrameError("too_long", "text too long", client_id=client_id)
    return text


def _client_id(client_id: Any, *, required: bool) -> str | None:
    if client_id is None and not required:
        return None
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise FrameError("bad_frame", "client_id must be a string of 1 to 64 characters")
    return client_id
