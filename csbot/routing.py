"""WebSocket routes, each with only the middleware its consumer needs.

The player's socket knows its player by a signed cookie (chat/identity.py): it
needs the cookies, not Django's session and user. Channels' session middleware
wraps every frame a socket sends (it checks whether to save the session), and
its auth middleware loads the user on connect in a database hop, so the
player's socket, which sends every delta of every answer, goes without them.
Staff sign in with Django's auth: their socket has the whole stack.
"""

from channels.auth import AuthMiddlewareStack
from channels.sessions import CookieMiddleware
from django.urls import path

from chat.consumers import PlayerConsumer
from chat.staff_consumer import StaffConsumer

websocket_urlpatterns = [
    path("ws/chat/", CookieMiddleware(PlayerConsumer.as_asgi())),
    path("ws/staff/", AuthMiddlewareStack(StaffConsumer.as_asgi())),
]
