"""A staff member who walks away from a shared support desk is signed out once their session
has been idle STAFF_SESSION_IDLE_MINUTES (chat/staff_sessions.py): page loads and what they
do on the dashboard's socket keep it going; an open dashboard that only listens does not.
Players, who have no staff session, are untouched."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone

from chat.models import Message
from tests.chat.staff_client import StaffSocket

IDLE_MINUTES = 60


class Clock:
    """Django's clock, moved on by hand: the sessions' expiry dates compare with it."""

    def __init__(self, monkeypatch) -> None:
        self.offset = timedelta()
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + self.offset)

    def forward(self, minutes: float) -> None:
        self.offset += timedelta(minutes=minutes)


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    settings.STAFF_SESSION_IDLE_MINUTES = IDLE_MINUTES
    return Clock(monkeypatch)


def signed_in_browser(username: str) -> Client:
    browser = Client()
    response = browser.post("/accounts/login/", {"username": username, "password": f"pw-{username}"})
    assert response.status_code == 302 and response.url == "/staff/"
    return browser


@pytest.mark.django_db
def test_a_staff_member_idle_longer_than_the_timeout_is_sent_to_sign_in_again(alice, clock):
    browser = signed_in_browser("alice")

    clock.forward(IDLE_MINUTES - 1)
    assert browser.get("/staff/").status_code == 200
    clock.forward(IDLE_MINUTES - 1)  # two idle spells of 59 minutes, each ended by a page load
    assert browser.get("/staff/").status_code == 200
    clock.forward(IDLE_MINUTES + 1)
    away = browser.get("/staff/c/12/")

    assert away.status_code == 302 and away.url == "/accounts/login/?next=/staff/c/12/"


@pytest.mark.django_db(transaction=True)
def test_a_players_chat_outlasts_the_staff_idle_timeout(lin, clock):
    player = Client()
    first = player.get("/")
    clock.forward(IDLE_MINUTES * 24)
    again = player.get("/")

    assert first.status_code == again.status_code == 200
    # The same player (the cookie's signature carries the time it was signed).
    assert again.cookies["csbot_player"].value.split(":")[0] == first.cookies["csbot_player"].value.split(":")[0]


@pytest.mark.django_db(transaction=True)
async def test_an_idle_dashboard_is_closed_while_one_in_use_stays_open(alice, bob, clock, monkeypatch):
    from chat import staff_consumer

    monkeypatch.setattr(staff_consumer, "ACCESS_CHECK_SECONDS", 0.2)
    idle, busy = await StaffSocket.of(alice), await StaffSocket.of(bob)  # the roster: Alice, then Bob
    await idle.connect()
    await busy.connect()

    clock.forward(IDLE_MINUTES - 10)
    await busy.send({"type": "status", "status": "away"})  # Bob does something on the dashboard
    await busy.receive_until(lambda f: f.get("type") == "agents" and f["agents"][1]["status"] == "away")
    clock.forward(20)

    assert await idle.closed_with() == 4403  # the page sends Alice to sign in
    await asyncio.sleep(0.6)  # several checks
    await busy.send({"type": "ping"})
    assert (await busy.receive_until(lambda f: f.get("type") == "pong")) == {"type": "pong"}
    await busy.close()


@pytest.mark.django_db(transaction=True)
async def test_what_an_idle_dashboard_sends_once_the_session_has_expired_is_refused_and_it_is_closed(lin, alice, clock):
    from chat.models import Conversation

    chat = await sync_to_async(Conversation.objects.create)(player=lin)
    dashboard = await StaffSocket.of(alice)
    await dashboard.connect()

    clock.forward(IDLE_MINUTES + 1)
    await dashboard.send({"type": "note", "conversation_id": chat.pk, "client_id": "n1", "text": "back now"})

    assert await dashboard.closed_with() == 4403  # at once, not at the next check 20 s on
    assert not await sync_to_async(Message.objects.filter(conversation=chat).exists)()
