"""Incremental Server-Sent Events line parser over raw bytes.

TCP delivers arbitrary slices of the stream: a chunk may end between `\\r` and
`\\n`, or in the middle of a three-byte Chinese character. So the buffer is
split on bytes and only complete lines are decoded. Decoding whole chunks would
turn a split character into U+FFFD (or an exception).

Only the parts the LLM APIs use are implemented: one JSON document per `data:`
line. Blank lines are not treated as event boundaries and multi-line events are
not joined; `event:`, `id:`, `retry:` and comment lines are skipped. Any other
non-blank line is handed back as "other": ERNIE sends its errors as bare JSON
lines in the middle of an SSE stream.
"""

from __future__ import annotations

from typing import Literal

LineKind = Literal["data", "other"]
SSELine = tuple[LineKind, str]

# A line this long is not an LLM chunk; stop before the buffer eats the memory.
MAX_LINE_BYTES = 1 << 20

_SKIPPED_FIELDS = (b"event:", b"id:", b"retry:", b":")


class SSEError(ValueError):
    """The stream is not valid SSE (a line too long or not UTF-8)."""


class SSEParser:
    __slots__ = ("_tail",)

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, chunk: bytes) -> list[SSELine]:
        """Return the complete lines in `chunk` (plus what was left over before)."""
        data = self._tail + chunk if self._tail else chunk
        if b"\n" not in data:
            self._keep(data)
            return []
        *lines, tail = data.split(b"\n")
        self._keep(tail)
        return [parsed for line in lines if (parsed := _parse(line)) is not None]

    def flush(self) -> list[SSELine]:
        """At end of stream: the last line, if the server did not end it with a newline."""
        tail, self._tail = self._tail, b""
        parsed = _parse(tail)
        return [parsed] if parsed is not None else []

    def _keep(self, tail: bytes) -> None:
        if len(tail) > MAX_LINE_BYTES:
            raise SSEError(f"SSE line longer than {MAX_LINE_BYTES} bytes")
        self._tail = tail


def _parse(line: bytes) -> SSELine | None:
    if line.endswith(b"\r"):
        line = line[:-1]
    if not line:
        return None
    try:
        if line.startswith(b"data:"):
            payload = line[6:] if line[5:6] == b" " else line[5:]
            return ("data", payload.decode("utf-8"))
        if line.startswith(_SKIPPED_FIELDS):
            return None
        return ("other", line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SSEError(f"SSE line is not UTF-8: {exc}") from None
