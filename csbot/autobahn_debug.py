"""autobahn's per-connection debug line, formatted only if a debug log is written.

On every WebSocket connection autobahn builds a debug message from its 29
settings with `pprint.pformat`, before the logger decides whether debug lines
are written at all: 0.17 ms of the event loop's CPU per player's connect, for
a line nobody reads in production (docs/benchmarks.md, "The fourteenth
round"). install() gives that call an object that formats when the log line
is formatted, so with debug logging on the line reads as before.
"""

from __future__ import annotations

import pprint

from autobahn.websocket import protocol


class _Pformat:
    """pprint.pformat(obj), computed when formatted or printed."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __str__(self) -> str:
        return pprint.pformat(self.obj)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def install() -> None:
    """Make autobahn's module-level `pformat` lazy in this process (csbot/serve.py)."""
    protocol.pformat = _Pformat
