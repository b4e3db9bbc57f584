"""The player page. Who the player is: see chat/identity.py and docs/protocol.md."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from chat.identity import player_cookie_value
from chat.player_page import player_page_build
from csbot.helper_pool import helper_pool
from csbot.readiness import readiness

# In a helper process, off the streams' GIL (chat/player_page.py).
_page = helper_pool(player_page_build)


@require_GET
async def player_page(request: HttpRequest) -> HttpResponse:
    # Async, with the page's queries and rendering in ONE helper call: a sync view
    # under ASGI costs a hop of Django's own, and every player loads this page
    # (docs/benchmarks-history.md, "The sixth round").
    page = await _page(
        token=request.GET.get("token"),
        cookie=request.COOKIES.get(settings.PLAYER_COOKIE_NAME),
        # The request's language (LocaleMiddleware) and CSRF token (its cookie goes out
        # with this response) stay here, with the request.
        language=get_language() or "",
        csrf_token=get_token(request),
        path=request.path,
    )
    response = HttpResponse(page.html, status=page.status)
    if page.player_id is not None:
        response.set_cookie(
            settings.PLAYER_COOKIE_NAME,
            player_cookie_value(page.player_id),
            max_age=settings.PLAYER_COOKIE_MAX_AGE,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


async def healthz(request: HttpRequest) -> JsonResponse:
    """Alive (a liveness probe): answers as soon as the process listens. Anyone who can reach
    it reads the body, so it says nothing of the configuration (which LLM provider, hence
    which upstream and which key to go after): the process's log names that at its start."""
    return JsonResponse({"ok": True})


@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to serve at full speed (a readiness probe): 503 until warmed up, and while the
    database or Redis can't be reached (csbot/readiness.py)."""
    state = await readiness()
    response = JsonResponse(state.as_dict(), status=200 if state.ready else 503)
    # A 503 here is the expected answer for a process's first seconds, polled every few
    # seconds by each balancer: not an error for django.request to log (log_response skips it).
    response._has_been_logged = True
    return response
