"""What the player's and the staff's WebSockets share: Channels' dispatch, minus a thread hop per event.

Channels (4.2 and later) calls `aclose_old_connections()` before every event it
dispatches to a consumer and after a disconnect: a hop to asgiref's one shared
sync thread, to close that thread's stale database connections. Our consumers
never query on that thread's connections without a sweep of their own: every
query goes through csbot/db.py, whose pool threads close stale connections
around each call, or through `database_sync_to_async`, which does the same. So
for us the sweep was a thread hop per frame, about 4% of a daphne process's GIL
time at ERNIE pace, N = 1,000 (docs/benchmarks.md, "The fourth round").

The two methods below are Channels' own (channels/consumer.py and
channels/generic/websocket.py, 4.3) without that call;
tests/chat/test_socket_base.py fails if Channels' dispatch changes shape.
"""

from __future__ import annotations

from channels.consumer import get_handler_name
from channels.exceptions import InvalidChannelLayerError, StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer


class SocketConsumer(AsyncWebsocketConsumer):
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
