"""The player page's work: who the visitor is, and the page's HTML.

It runs in a helper process (chat/views.py): the page is the heaviest part of a
player's arrival (its queries and the template: a few milliseconds of Python),
and in the web process's threads that CPU would take the GIL from the event
loop that relays every running answer's chunks. So it takes plain values, not
the request, and gives back plain values: the view keeps what belongs to the
request (the CSRF cookie, the player's cookie, HTTPS).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation

from chat import services
from chat.identity import InvalidToken, player_id_from_cookie, verify_player_token
from chat.models import Player
from chat.token_uses import token_usable
from csbot.fastsql import get_by_pk, update_by_pk


@dataclass(frozen=True)
class Page:
    status: int
    html: str
    player_id: int | None  # whose cookie to set; None when the page refuses the visitor


@dataclass(frozen=True)
class _Request:
    """What the templates read of the request: base.html's language switcher returns to `path`."""

    path: str


def player_page_build(*, token: str | None, cookie: str | None, language: str, csrf_token: str, path: str) -> Page:
    """The page for a visitor from the game (`token`), a returning one (`cookie`) or a new one."""
    with translation.override(language):
        context = {"csrf_token": csrf_token, "request": _Request(path), "LANGUAGE_CODE": language}
        if token:
            try:
                game_player = verify_player_token(token)
                usable = token_usable(token, exp=game_player.exp)
                player = services.player_from_game(game_player=game_player)
                if not usable and player_id_from_cookie(cookie) != player.pk:
                    raise InvalidToken("token already used")
            except InvalidToken as exc:
                html = render_to_string("chat/token_error.html", {**context, "reason": str(exc)})
                return Page(403, html, None)
        else:
            player_id = player_id_from_cookie(cookie)
            # Every visit: the connect path's SQL is built once (csbot/fastsql.py).
            player = get_by_pk(Player, player_id) if player_id else None
            if player is None:
                player = services.player_create_anonymous(language=language)
        if player.language != language:
            # The bot answers in the language the page is shown in.
            player.language = language
            update_by_pk(Player, player.pk, language=player.language)
        context.update(player=player, max_chars=settings.CHAT_MAX_MESSAGE_CHARS, ws_path="/ws/chat/")
        return Page(200, render_to_string("chat/player.html", context), player.pk)
