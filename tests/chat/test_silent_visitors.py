"""A script fetching the player page over and over used to leave a player row per fetch for
good; beat deletes, a day later, the anonymous players who never opened the chat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.test import Client
from django.utils import timezone

from chat.identity import make_player_token, player_id_from_cookie
from chat.models import Player
from chat.tasks import delete_silent_visitors
from tests.chat.socket_client import PlayerSocket

pytestmark = pytest.mark.django_db(transaction=True)


def page_load(path: str = "/") -> int:
    browser = Client()
    browser.get(path)
    return player_id_from_cookie(browser.cookies[settings.PLAYER_COOKIE_NAME].value)


async def test_page_loads_that_never_opened_the_chat_leave_no_player_a_day_later():
    crawled = [await sync_to_async(page_load)() for _ in range(3)]
    visitor = await sync_to_async(page_load)()
    game_player = await sync_to_async(page_load)(f"/?token={make_player_token('10086', name='Lin')}")
    sock = PlayerSocket(visitor)  # the page's script opens the chat
    await sock.connect()
    await sock.close()
    yesterday = timezone.now() - timedelta(days=1, minutes=1)
    await sync_to_async(Player.objects.update)(created_at=yesterday)
    fresh = await sync_to_async(page_load)()  # a page loaded a moment ago: its socket may be opening

    deleted = await sync_to_async(delete_silent_visitors)()

    assert deleted == 3
    left = set(await sync_to_async(lambda: list(Player.objects.values_list("pk", flat=True)))())
    assert left == {visitor, game_player, fresh} and not left & set(crawled)
