from django.urls import path

from chat.consumers import PlayerConsumer

websocket_urlpatterns = [
    path("ws/chat/", PlayerConsumer.as_asgi()),
]
