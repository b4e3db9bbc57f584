"""The player page. Who the player is: see chat/identity.py and docs/protocol.md."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from chat import services
from chat.identity import InvalidToken, player_cookie_value, player_id_from_cookie, verify_player_token
from chat.models import Player
from csbot.db import in_worker
from csbot.fastsql import get_by_pk, update_by_pk


@require_GET
async def player_page(request: HttpRequest) -> HttpResponse:
    # Async, with the page's queries and rendering in ONE worker-thread call: a
    # sync view under ASGI costs a hop of Django's own, and every player loads
    # this page (docs/benchmarks.md, "The sixth round").
    return await in_worker(_player_page, request, get_language() or "")


def _player_page(request: HttpRequest, language: str) -> HttpResponse:
    # The worker thread does not see the request's active language (an asgiref
    # Local of the event loop's thread): the page renders in the one passed in.
    with translation.override(language):
        token = request.GET.get("token")
        if token:
            try:
                player = services.player_from_game(game_player=verify_player_token(token))
            except InvalidToken as exc:
                return render(request, "chat/token_error.html", {"reason": str(exc)}, status=403)
        else:
            player_id = player_id_from_cookie(request.COOKIES.get(settings.PLAYER_COOKIE_NAME))
            # Every visit: the connect path's SQL is built once (csbot/fastsql.py).
            player = get_by_pk(Player, player_id) if player_id else None
            if player is None:
                player = services.player_create_anonymous(language=language)
        if player.language != language:
            # The bot answers in the language the page is shown in.
            player.language = language
            update_by_pk(Player, player.pk, language=player.language)
        response = render(
            request,
            "chat/player.html",
            {"player": player, "max_chars": settings.CHAT_MAX_MESSAGE_CHARS, "ws_path": "/ws/chat/"},
        )
    response.set_cookie(
        settings.PLAYER_COOKIE_NAME,
        player_cookie_value(player.pk),
        max_age=settings.PLAYER_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True, "provider": settings.LLM_PROVIDER, "title": _("csbot")})
