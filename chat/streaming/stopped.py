"""Answers a handoff stopped, as the sockets of one process see them (chat/streaming/fanout.py).

A takeover, a close or an escalation stops the bot's answer and tells the player
("Alice has joined the chat."). When the answer runs on another process, the stop
reaches it through Redis while the notice reaches the sockets here at once: the
deltas it sent meanwhile arrived after the notice, and the player read bot text
after being told a person had joined. So the handoff's `state` frame goes out with
the id of its first system message (in the relay's envelope, not to clients), and
from then on this process hands its sockets no text of an answer older than that:
deltas and a `replace` are dropped, and the answer's `end` comes without its length
(`n`), so that no client resumes for the text its process stored after the notice.
"""

from __future__ import annotations

import json

from chat.frames import dumps

_DELTA = '{"t":"d",'
_REPLACE = '{"type":"replace",'
_END = '{"type":"end",'


class StoppedAnswers:
    """The answers of one conversation stopped by a handoff: every answer below `before`."""

    def __init__(self, before: int) -> None:
        self.before = before

    def stop_before(self, before: int) -> None:
        """A later handoff (an escalation's auto-assigned takeover) stops at least as much."""
        self.before = max(self.before, before)

    def admit(self, text: str) -> str | None:
        """The frame to hand the sockets instead of `text`; None to drop it."""
        if text.startswith(_DELTA):
            return None if json.loads(text)["i"] < self.before else text
        if text.startswith(_REPLACE):
            return None if json.loads(text)["id"] < self.before else text
        if text.startswith(_END):
            end = json.loads(text)
            if end["id"] < self.before and "n" in end:
                # Its stored text can be longer than what was shown here; without `n` the
                # client keeps what it shows rather than resume for the rest.
                del end["n"]
                return dumps(end)
        return text
