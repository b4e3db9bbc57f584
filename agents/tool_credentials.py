"""Which secret of the environment a tool may send as its auth header, and to where.

A tool names the environment variable that holds its header's value (Tool.auth_env),
and managers edit tools in the admin. Read as any variable, that let a manager make
the bot send SECRET_KEY, PLAYER_TOKEN_SECRET (to sign in as any player) or
DATABASE_URL to a URL of theirs; sent wherever the tool points, it let them collect the
game backend's own credential. So only the variables in TOOL_AUTH_ENV are credentials,
each sent only to its origin: the game backend's (GAME_BACKEND_URL) unless the entry
names another (`NAME=https://billing.internal`). The admin refuses a tool that breaks
this, and a call checks it again on the URL it is about to request.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

log = logging.getLogger(__name__)


def _origin(url: str) -> str:
    # The whole netloc: "http://backend:8765@evil.example" is evil.example's, not the backend's.
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _allowed_origin(auth_env: str) -> str | None:
    if auth_env not in settings.TOOL_AUTH_ENV:
        return None
    return _origin(settings.TOOL_AUTH_ENV[auth_env] or settings.GAME_BACKEND_URL)


def credential_refusal(auth_env: str, url: str) -> str | None:
    """Why a tool may not send `auth_env` to `url` (a tool's URL, placeholders and all), or None."""
    origin = _allowed_origin(auth_env)
    if origin is None:
        return _("%(name)s is not a tool credential: only these variables are (TOOL_AUTH_ENV): %(allowed)s.") % {
            "name": auth_env,
            "allowed": ", ".join(settings.TOOL_AUTH_ENV) or "-",
        }
    if _origin(url.replace("{GAME_BACKEND_URL}", settings.GAME_BACKEND_URL.rstrip("/"))) != origin:
        return _("%(name)s is sent only to %(origin)s: this URL is elsewhere.") % {"name": auth_env, "origin": origin}
    return None


def credential_for(auth_env: str, url: str) -> str | None:
    """The header's value for a request to `url`; None when the tool may not send it there."""
    if credential_refusal(auth_env, url) is not None:
        log.warning("tool credential %s not sent to %s: not allowed there (TOOL_AUTH_ENV)", auth_env, _origin(url))
        return None
    return os.environ.get(auth_env) or None
