"""Who the player is: an anonymous visitor's signed cookie, or a game token."""

from __future__ import annotations

import pytest

from chat.identity import InvalidToken, make_player_token, player_id_from_cookie, verify_player_token
from chat.models import Player

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
