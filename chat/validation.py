"""Checking the frames a player's browser sends (docs/protocol.md)."""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

CLIENT_TYPES = {"send", "resume", "ping", "handoff", "back_to_bot", "typing", "form_submit", "csat"}
# An inline form has a few short fields (docs/protocol.md).
FORM_MAX_FIELDS = 20
FORM_MAX_VALUE_CHARS = 200


class FrameError(Exception):
    def __init__(self, code: str, staff_note: str, *, client_id: str | None = None) -> None:
        super().__init__(staff_note)
        self.code = code
        self.staff_note = staff_note
        self.client_id = client_id


def frame_error_text(code: str) -> str:
    """What a refused frame means, in the active language: the same words on the player's
    socket and the staff's, never the internal note (which is for the staff's history)."""
    return {
        "too_long": _("Your message is too long (at most %(max)s characters). It was not sent.")
        % {"max": settings.CHAT_MAX_MESSAGE_CHARS},
        "too_large": _("That message is too large to send."),
        "empty": _("Your message is empty."),
        "slow_down": _("You are sending messages very quickly. Please wait a moment, then send it again."),
        "restarting": _("We are restarting a server. Your message was not sent: please send it again in a moment."),
    }.get(code, _("Your app sent something we could not read. Please reload the page."))


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
    bare = lambda f: {"type": f["type"]}  # noqa: E731
    parsers = {
        "send": _send,
        "resume": _resume,
        "ping": bare,
        "handoff": bare,
        "back_to_bot": bare,
        "typing": bare,
        "form_submit": _form,
        "csat": _csat,
    }
    return parsers[frame["type"]](frame)


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
    out = {"type": "send", "client_id": client_id, "text": text}
    intent = frame.get("intent")
    if intent is not None:
        # A quick reply names its intent; the text is its label.
        if not isinstance(intent, str) or not _INTENT.fullmatch(intent):
            note = f"Rejected a message with a malformed intent {intent!r}:\n{text}"
            raise FrameError("bad_frame", note, client_id=client_id)
        out["intent"] = intent
    return out


# An intent's name as the admin may write it (agents.models.Intent.name, a SlugField):
# capitals too, or the quick replies of such an intent would all be refused.
_INTENT = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _form(frame: dict) -> dict:
    """{"type": "form_submit", "form_id", "values": {name: text}, "client_id"?}."""
    form_id, values, client_id = frame.get("form_id"), frame.get("values"), frame.get("client_id")
    if not isinstance(form_id, str) or not 1 <= len(form_id) <= 64:
        raise FrameError("bad_frame", "Rejected a form without a valid form_id.")
    if client_id is None:
        client_id = f"form:{form_id}"  # a form is submitted (and stored) once
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 64:
        raise FrameError("bad_frame", "Rejected a form without a valid client_id.")
    if not isinstance(values, dict) or not 1 <= len(values) <= FORM_MAX_FIELDS:
        raise FrameError("bad_frame", f"Rejected form {form_id} without values.", client_id=client_id)
    clean: dict[str, str] = {}
    for name, value in values.items():
        if not isinstance(value, str) or len(name) > 64 or len(value) > FORM_MAX_VALUE_CHARS:
            raise FrameError(
                "bad_frame", f"Rejected form {form_id}: field {name[:64]!r} is not a short text.", client_id=client_id
            )
        clean[name] = value.strip()
    return {"type": "form_submit", "form_id": form_id, "values": clean, "client_id": client_id}


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


def _csat(frame: dict) -> dict:
    conversation_id, score, comment = frame.get("conversation_id"), frame.get("score"), frame.get("comment", "")
    if not isinstance(conversation_id, int) or isinstance(score, bool) or not isinstance(score, int):
        raise FrameError("bad_frame", "Rejected a malformed rating frame.")
    if not 1 <= score <= 5 or not isinstance(comment, str) or len(comment) > 1000:
        raise FrameError(
            "bad_frame", f"Rejected a rating of {score!r} with a comment of {len(str(comment))} characters."
        )
    return {"type": "csat", "conversation_id": conversation_id, "score": score, "comment": comment.strip()}
