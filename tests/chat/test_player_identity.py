"""Who the player is: an anonymous visitor's signed cookie, or a game token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.identity import InvalidToken, make_player_token, player_id_from_cookie, verify_player_token
from chat.models import Player, PlayerTokenUse
from chat.token_uses import REUSE_GRACE_SECONDS

# transaction=True: the page does its queries in a worker thread (chat/views.py), which
# does not see a test's open transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_anonymous_visitor_gets_a_signed_cookie_and_keeps_it_across_visits(client, settings):
    first = client.get("/")
    cookie = first.cookies[settings.PLAYER_COOKIE_NAME]
    assert cookie["httponly"]
    player_id = player_id_from_cookie(cookie.value)
    assert Player.objects.filter(pk=player_id, game_player_id=None).exists()

    client.get("/")
    assert Player.objects.count() == 1


def test_a_tampered_cookie_is_not_trusted(client, settings):
    client.get("/")
    value = client.cookies[settings.PLAYER_COOKIE_NAME].value
    assert player_id_from_cookie(value[:-2] + "xx") is None


def test_a_game_token_signs_the_player_in_as_that_game_player(client):
    token = make_player_token("10086", name="Lin")
    response = client.get(f"/?token={token}")
    assert response.status_code == 200
    player = Player.objects.get(game_player_id="10086")
    assert player.display_name == "Lin"
    assert b"Lin" in response.content


def test_a_sign_in_link_opened_again_in_another_browser_is_refused(client, settings):
    """The token stays in the URL: browser history, a proxy's log, a screenshot of the address bar."""
    token = make_player_token("10086", name="Lin")
    assert client.get(f"/?token={token}").status_code == 200
    lin = client.cookies[settings.PLAYER_COOKIE_NAME].value
    # A double tap on the game's support button: the second request, cookie-less, within the grace.
    assert Client().get(f"/?token={token}").status_code == 200

    PlayerTokenUse.objects.update(used_at=timezone.now() - timedelta(seconds=REUSE_GRACE_SECONDS + 1))
    stranger = Client()
    replayed = stranger.get(f"/?token={token}")
    assert replayed.status_code == 403
    assert "works once, and only until it expires" in replayed.content.decode()
    assert settings.PLAYER_COOKIE_NAME not in replayed.cookies

    # Lin reloading the page she was sent to is still Lin.
    reload = client.get(f"/?token={token}")
    assert reload.status_code == 200 and b"Lin" in reload.content
    assert player_id_from_cookie(client.cookies[settings.PLAYER_COOKIE_NAME].value) == player_id_from_cookie(lin)


def test_a_token_signed_for_centuries_still_signs_the_player_in_once(client):
    token = make_player_token("10086", name="Lin", ttl=10**12)  # past year 9999
    assert client.get(f"/?token={token}").status_code == 200
    assert PlayerTokenUse.objects.get().expires_at < timezone.now() + timedelta(days=401)


def test_an_expired_token_is_refused_with_a_page_that_says_so(client):
    token = make_player_token("10086", ttl=-10)
    response = client.get(f"/?token={token}")
    assert response.status_code == 403
    assert b"not valid" in response.content
    assert not Player.objects.exists()


def test_a_token_signed_with_another_secret_is_refused():
    token = make_player_token("10086", secret="not-our-secret")
    with pytest.raises(InvalidToken, match="bad signature"):
        verify_player_token(token)


def test_a_malformed_token_is_refused():
    with pytest.raises(InvalidToken):
        verify_player_token("garbage")
