"""autobahn's debug lines, formatted only if a debug log is written.

autobahn builds the arguments of its debug lines before the logger decides
whether debug lines are written at all, and nobody reads them in production:
- on every WebSocket connection, its 29 settings through `pprint.pformat`:
  0.17 ms of the event loop's CPU per player's connect (docs/benchmarks-history.md,
  "The fourteenth round");
- on every frame it writes (`sendData`) and every read (`dataReceived`), the
  method's name and the peer coloured for a terminal (`hltype`, `hlval`, each
  a few `click.style` calls): 2.7 of the 3.8 µs that `sendData` takes to
  write a frame ("The eighteenth round").
install() gives those calls objects that format when the log line is
formatted, so with debug logging on the lines read as before.
"""

from __future__ import annotations

import pprint
from collections.abc import Callable

from autobahn import util
from autobahn.twisted import websocket as twisted_websocket
from autobahn.websocket import protocol


class _Later:
    """fn(*args), computed when formatted or printed."""

    __slots__ = ("fn", "args")

    def __init__(self, fn: Callable[..., object], *args: object) -> None:
        self.fn, self.args = fn, args

    def __str__(self) -> str:
        return str(self.fn(*self.args))

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


class _Pformat(_Later):
    """pprint.pformat(obj), computed when formatted or printed."""

    __slots__ = ()

    def __init__(self, obj: object) -> None:
        super().__init__(pprint.pformat, obj)


def _hltype(obj: object) -> _Later:
    return _Later(util.hltype, obj)


def _hlval(val: object, *args: object) -> _Later:
    return _Later(util.hlval, val, *args)


def install() -> None:
    """Make autobahn's debug arguments lazy in this process (csbot/serve.py)."""
    protocol.pformat = _Pformat
    # Both modules imported the names: they are the ones their per-frame lines call.
    for module in (protocol, twisted_websocket):
        module.hltype = _hltype
        module.hlval = _hlval
