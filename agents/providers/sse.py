"""Incremental Server-Sent Events line parser over raw bytes.

TCP delivers arbitrary slices of the stream: a chunk may end between `\\r` and
`\\n`, or in the middle of a three-byte Chinese character. So the buffer is
split on bytes and only complete lines are decoded. Decoding whole chunks would
turn a split character into U+FFFD (or an exception).

An event's `data:` lines are joined with "\n" and the event handed back at the
blank line that ends it, as the SSE spec says: a server (or a proxy re-framing its
stream) may spread one JSON document over several `data:` lines, and read line by
line each half was "malformed". The LLM APIs send one line per event, so an event
still goes out as soon as its blank line arrives, and a `data:` line that is a
whole JSON document (or `[DONE]`) already when a read ends, or when another `data:`
line follows it, goes out without waiting for one: a server that leaves the blank
lines out still streams, chunk by chunk. `event:`, `id:`, `retry:` and
comment lines are skipped. Any other non-blank line is handed back at once as
"other": ERNIE sends its errors as bare JSON lines in the middle of an SSE stream.
"""

from __future__ import annotations

import json
from typing import Literal

LineKind = Literal["data", "other"]
SSELine = tuple[LineKind, str]

# A line (or an event) this long is not an LLM chunk; stop before the buffer eats the memory.
MAX_LINE_BYTES = 1 << 20

_SKIPPED_FIELDS = (b"event:", b"id:", b"retry:", b":")


class SSEError(ValueError):
    """The stream is not valid SSE (a line too long or not UTF-8)."""


class SSEParser:
    __slots__ = ("_data", "_data_bytes", "_tail")

    def __init__(self) -> None:
        self._tail = b""
        self._data: list[str] = []  # the `data:` lines of the event not yet ended
        self._data_bytes = 0

    def feed(self, chunk: bytes) -> list[SSELine]:
        """Return the events that `chunk` (plus what was left over before) completes."""
        data = self._tail + chunk if self._tail else chunk
        if b"\n" not in data:
            self._keep(data)
            return []
        *lines, tail = data.split(b"\n")
        self._keep(tail)
        out: list[SSELine] = []
        for line in lines:
            self._line(line, out)
        if self._data and self._whole():
            # Its blank line is in the next read, or never comes (a server that leaves them out):
            # a chunk the player would otherwise see only with the next one.
            self._dispatch(out)
        return out

    def flush(self) -> list[SSELine]:
        """At end of stream: the last line, if the server did not end it with a newline, and the
        last event, if it did not end that with a blank line (a lenient server's `data: [DONE]`)."""
        tail, self._tail = self._tail, b""
        out: list[SSELine] = []
        self._line(tail, out)
        self._dispatch(out)
        return out

    def _line(self, line: bytes, out: list[SSELine]) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            self._dispatch(out)
            return
        try:
            if line.startswith(b"data:") or line == b"data":
                payload = line[6:] if line[5:6] == b" " else line[5:]
                if self._data and self._whole():  # no blank line came between two documents
                    self._dispatch(out)
                self._data_bytes += len(payload) + 1
                if self._data_bytes > MAX_LINE_BYTES:
                    raise SSEError(f"SSE event longer than {MAX_LINE_BYTES} bytes")
                self._data.append(payload.decode("utf-8"))
            elif not line.startswith(_SKIPPED_FIELDS):
                out.append(("other", line.decode("utf-8")))
        except UnicodeDecodeError as exc:
            raise SSEError(f"SSE line is not UTF-8: {exc}") from None

    def _whole(self) -> bool:
        """Is the event so far a whole document? Asked only when its blank line is late."""
        text = "\n".join(self._data)
        if text == "[DONE]":
            return True
        try:
            json.loads(text)
        except ValueError:
            return False
        return True

    def _dispatch(self, out: list[SSELine]) -> None:
        if self._data:
            out.append(("data", "\n".join(self._data)))
            self._data, self._data_bytes = [], 0

    def _keep(self, tail: bytes) -> None:
        if len(tail) > MAX_LINE_BYTES:
            raise SSEError(f"SSE line longer than {MAX_LINE_BYTES} bytes")
        self._tail = tail
