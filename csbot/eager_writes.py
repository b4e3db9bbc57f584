"""Send a TCP write at once when nothing is queued before it, instead of on the next loop turn.

Twisted, under daphne, never writes in `transport.write`: it queues the bytes,
asks the event loop to watch the socket for writability (`add_writer`, an
`epoll_ctl`), sends them when the loop next turns, then stops watching
(`remove_writer`, another `epoll_ctl`). A streamed answer is many small frames
to sockets that are almost always writable, so every delta cost each socket two
system calls and a loop turn of delay. asyncio's own transports (and the
`websockets` server the benchmarks' floor uses) try `send` first and queue only
what the kernel did not take; this does the same for twisted's TCP connections
(docs/benchmarks-history.md, "The seventh round").

Order and back-pressure are kept: a write goes straight out only when nothing
written before it is still queued, and whatever the kernel does not take is
queued the usual way (the producer is paused as before when that queue grows).
A socket whose peer is gone fails the send; the bytes are queued and twisted's
next `doWrite` finds the loss and closes the connection as it always did.
"""

from __future__ import annotations

from twisted.internet import tcp

# twisted's: through TLS when it is on, else FileDescriptor's (queue, then add_writer).
_queued_write = tcp.Connection.write
_queued_write_sequence = tcp.Connection.writeSequence


def _write(self: tcp.Connection, data: bytes) -> None:
    if (
        data
        and not self.TLS  # TLS bytes leave through the TLS layer's own writes, queued as before
        and self.connected
        and not self.disconnecting
        and not self._aborting  # aborted: twisted drops what is written, so must we
        and not self._writeDisconnected
        and not self._tempDataBuffer
        and self.offset == len(self.dataBuffer)
        and isinstance(data, bytes)
    ):
        sent = self.writeSomeData(data)
        if isinstance(sent, int) and sent > 0:
            if sent == len(data):
                return
            data = data[sent:]
    _queued_write(self, data)


def _write_sequence(self: tcp.Connection, iovec) -> None:
    """What twisted's HTTP/1.1 uses for a chunked body: the chunk's header, data and CRLF."""
    if self.TLS:
        _queued_write_sequence(self, iovec)
    else:
        _write(self, b"".join(iovec))


def install() -> None:
    """Make every twisted TCP connection in this process write eagerly (csbot/serve.py)."""
    tcp.Connection.write = _write
    tcp.Connection.writeSequence = _write_sequence
