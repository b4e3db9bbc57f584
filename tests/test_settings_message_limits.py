"""Every message the page lets through fits in a WebSocket frame (csbot/settings.py): a frame
refused as too_large is not read, so the page could neither send it again nor get it back,
and staff would read only its first lines."""

from __future__ import annotations

import json

from chat.validation import parse_client_frame
from tests import servers


def test_csbot_refuses_to_start_with_frames_too_small_for_its_longest_message():
    assert servers.refusal_to_start(CHAT_MAX_MESSAGE_CHARS="12000") == (
        "django.core.exceptions.ImproperlyConfigured: CHAT_MAX_FRAME_BYTES (32768) is too small for messages "
        "of CHAT_MAX_MESSAGE_CHARS (12000) characters, whose frames take up to 73024 bytes: raise "
        "CHAT_MAX_FRAME_BYTES to at least that, or lower CHAT_MAX_MESSAGE_CHARS."
    )


def test_a_larger_frame_limit_lets_it_start():
    env = {"CHAT_MAX_MESSAGE_CHARS": "12000", "CHAT_MAX_FRAME_BYTES": "73024"}
    assert servers.setting_in_a_fresh_process("CHAT_MAX_FRAME_BYTES", **env) == "73024"


def test_the_longest_send_in_the_widest_characters_fits_the_smallest_frame_limit_allowed(settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 100
    settings.CHAT_MAX_FRAME_BYTES = 6 * 100 + 1024
    # Pasted control characters take 6 bytes each in the frame's JSON, as the page encodes it.
    text = "x" + "\x07" * 98 + "y"
    frame = json.dumps({"type": "send", "client_id": "c" * 64, "text": text, "intent": "i" * 64})

    assert parse_client_frame(frame, None)["text"] == text
