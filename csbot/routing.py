from django.urls import path

from chat.consumers import PlayerConsumer
from chat.staff_consumer import StaffConsumer

websocket_urlpatterns = [
    path("ws/chat/", PlayerConsumer.as_asgi()),
    path("ws/staff/", StaffConsumer.as_asgi()),
]
