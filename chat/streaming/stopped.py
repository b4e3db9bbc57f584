"""Answers a handoff stopped, as the sockets of one process see them (chat/streaming/fanout.py).

A takeover, a close or an escalation stops the bot's answer and tells the player
("Alice has joined the chat."). When the answer runs on another process, the stop
reaches it through Redis while the notice reaches the sockets here at once: the
deltas it sent meanwhile arrived after the notice, and the player read bot text
after being told a person had joined. So the handoff's `state` frame goes out with
the id of its first system message (in the relay's envelope, not to clients), and
from then on this process hands its sockets no text of an answer older than that:
deltas and a `replace` are dropped, and the answer's `end` says the length they
were shown (`n`), not the longer one its process stored, so that no client resumes
for the rest; one that lost frames before the notice still resumes for those.

What this leaves: the answer's process stores its text when it hears of the stop,
a Redis round trip after the notice, so a reload (or a later `watch`) can show a
few characters more than streamed before it (docs/protocol.md). It is left so,
because no process knows where to cut it:
- the notice reaches each process at its own moment, so each showed its sockets
  another length (`shown`, here), and the answer's process hears of none of them;
- the one exact cut, the answer stopped everywhere before the notice goes out,
  makes every handoff wait for the stop's reply from each process in the
  conversation's jobs group, and a process that died stays a member of it until
  the channel layer expires it (a day): each handoff of its players' chats would
  wait out a timeout;
- a fence in Redis checked before each delta leaves its process cuts what other
  processes get, but the process's own sockets are handed the delta before that
  check (chat/streaming/fanout.py), so they would lose on a reload text they saw
  before the notice; checking first puts a Redis round trip on every relayed
  delta's path to its own player.
The extra characters come before the notice in the history (seq order), and no
socket is sent them after it.
"""

from __future__ import annotations

import json

from chat.frames import dumps

_DELTA = '{"t":"d",'
_REPLACE = '{"type":"replace",'
_END = '{"type":"end",'


def is_delta(text: str) -> bool:
    return text.startswith(_DELTA)


class StoppedAnswers:
    """The answers of one conversation stopped by a handoff: every answer below `before`."""

    def __init__(self, before: int, last_delta: str | None) -> None:
        self.before = before
        # The length of each answer the sockets here were shown when it was stopped: the end
        # of the last delta they got. An answer none got a delta of here was shown nothing.
        self.shown: dict[int, int] = {}
        self.stop_before(before, last_delta)

    def stop_before(self, before: int, last_delta: str | None) -> None:
        """A (later) handoff stops the answers below `before`; `last_delta` is the last
        delta the sockets here got."""
        self.before = max(self.before, before)
        if last_delta is not None:
            delta = json.loads(last_delta)
            if delta["i"] < self.before:
                self.shown.setdefault(delta["i"], delta["o"] + len(delta["d"]))

    def admit(self, text: str) -> str | None:
        """The frame to hand the sockets instead of `text`; None to drop it."""
        if text.startswith(_DELTA):
            return None if json.loads(text)["i"] < self.before else text
        if text.startswith(_REPLACE):
            return None if json.loads(text)["id"] < self.before else text
        if text.startswith(_END):
            end = json.loads(text)
            shown = self.shown.get(end["id"], 0)
            if end["id"] < self.before and end["n"] > shown:
                return dumps({**end, "n": shown})
        return text
