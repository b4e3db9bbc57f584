"""The JSON frames sent to browsers (docs/protocol.md), built once per event.

Frames are encoded here, once, and relayed as text by every subscribed socket:
encoding per subscriber would multiply the JSON cost by the audience.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chat.models import Message


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def message_payload(message: Message, *, text: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": message.pk,
        "seq": message.seq,
        "sender": message.sender,
    }
    text = message.text if text is None else text
    if text or message.status != Message.Status.STREAMING:
        # A bot answer starts as an empty streaming message: clients read a
        # missing text as "" (docs/protocol.md), so the start frame stays short.
        payload["text"] = text
    elif message.meta.get("model_busy"):
        # Still without text, it waits out the LLM's rate limit: what the live `busy` said,
        # for a page that opens the chat meanwhile.
        payload["busy"] = True
    payload["status"] = message.status
    payload["created"] = created_text(message.created_at)
    if message.client_id:
        payload["client_id"] = message.client_id
    if message.meta.get("sources"):
        payload["sources"] = message.meta["sources"]
    if message.status == Message.Status.DONE:
        # What the bot offered under its answer (agents/pipeline/postprocess.py).
        if message.meta.get("quick_replies"):
            payload["quick_replies"] = message.meta["quick_replies"]
        if message.meta.get("form"):
            payload["form"] = {"form_id": message.meta["form"]["form_id"], "fields": message.meta["form"]["fields"]}
    if message.error and message.status == Message.Status.FAILED:
        payload["error"] = message.meta.get("player_error") or message.error
    if message.sender == Message.Sender.AGENT and message.meta.get("name"):
        payload["name"] = message.meta["name"]
    if message.sender == Message.Sender.SYSTEM and message.meta.get("event"):
        payload["event"] = message.meta["event"]  # taken_over, no_agent, ... (chat/handoff.py)
        if message.meta.get("no_agent"):  # nobody online: the player can leave a message
            payload["no_agent"] = True
    if message.internal:
        payload["internal"] = True
    return payload


def created_text(at: datetime) -> str:
    """UTC to the second, `2026-11-30T11:17:49Z`: what a chat shows, in 20 bytes rather
    than isoformat's 32 (every message frame has one)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message_frame(message: Message, *, text: str | None = None) -> dict[str, Any]:
    return {"type": "message", "message": message_payload(message, text=text)}


def delta_frame(message_id: int, offset: int, text: str) -> dict[str, Any]:
    # The one frame sent per chunk, so it is compact: `t` for `type` and `i` for
    # `id`, with the short type "d" (docs/protocol.md, "Deltas are compact").
    return {"t": "d", "i": message_id, "o": offset, "d": text}


def ack_frame(client_id: str, message_id: int, seq: int, duplicate: bool) -> dict[str, Any]:
    """A stored `send`; `duplicate` only on a resend (clients read it missing as false)."""
    frame: dict[str, Any] = {"type": "ack", "client_id": client_id, "id": message_id, "seq": seq}
    if duplicate:
        frame["duplicate"] = True
    return frame


def end_frame(
    message_id: int, status: str, *, length: int, sources: list | None = None, error: str = ""
) -> dict[str, Any]:
    """The answer is finished; `n` is its final length in code points.

    A client holding less resumes instead of finishing (docs/protocol.md): its
    resume may have read a buffer that was behind, with no delta after it to
    show the gap.
    """
    frame: dict[str, Any] = {"type": "end", "id": message_id, "status": status, "n": length}
    if sources:
        frame["sources"] = sources  # omitted when empty: clients read it missing as []
    if error:
        frame["error"] = error
    return frame


def stored_end_frame(message: Message, text: str) -> dict[str, Any]:
    """The `end` of a finished answer as its row has it (a resume, the sweep for orphans)."""
    error = message.meta.get("player_error", "") if message.status == Message.Status.FAILED else ""
    sources = message.meta.get("sources")
    return end_frame(message.pk, message.status, length=len(text), sources=sources, error=error)


def error_frame(code: str, message: str, *, client_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if client_id:
        frame["client_id"] = client_id
    return frame
