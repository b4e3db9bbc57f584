"""What the player's and the staff's WebSockets share: Channels' dispatch, minus a thread hop per event.

Channels (4.2 and later) calls `aclose_old_connections()` before every event it
dispatches to a consumer and after a disconnect: a hop to asgiref's one shared
sync thread, to close that thread's stale database connections. Our consumers
never query on that thread's connections without a sweep of their own: every
query goes through csbot/db.py, whose pool threads close stale connections
around each call, or through `database_sync_to_async`, which does the same. So
for us the sweep was a thread hop per frame, about 4% of a daphne process's GIL
time at ERNIE pace, N = 1,000 (docs/benchmarks-history.md, "The fourth round").

The two methods below are Channels' own (channels/consumer.py and
channels/generic/websocket.py, 4.3) without that call;
tests/chat/test_socket_base.py fails if Channels' dispatch changes shape.

Both sockets also reply to `resume` (and the staff's `watch`) the same way: the
live frames the fanout hands them while the reply is read from the database wait
until the reply is out, as docs/protocol.md promises ("Placing frames").
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from channels.consumer import get_handler_name
from channels.exceptions import InvalidChannelLayerError, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer


class SocketConsumer(AsyncWebsocketConsumer):
    _held: list[str] | None = None  # live frames waiting for a reply (live_frames_after)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if self._held is not None and text_data is not None and not close:
            self._held.append(text_data)
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    @contextlib.asynccontextmanager
    async def live_frames_after(self) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
        """Send a reply with the function this yields; every other frame sent meanwhile
        (a delta of the answer streaming now, say) goes after it, in its order.

        Without this a delta published while the reply is read can reach the client
        before the reply's message it belongs to: a gap where nothing was lost.
        """
        self._held = []

        async def send_now(text: str) -> None:
            await super(SocketConsumer, self).send(text_data=text)

        try:
            yield send_now
        finally:
            held, self._held = self._held, None
            for text in held:
                await super().send(text_data=text)

    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict) -> None:
        try:
            for group in self.groups:
                await self.channel_layer.group_discard(group, self.channel_name)
        except AttributeError:
            raise InvalidChannelLayerError("BACKEND is unconfigured or doesn't support groups") from None
        await self.disconnect(message["code"])
        raise StopConsumer()
