"""`manage.py check --deploy` sees csbot's middleware for what it is.

csbot.middleware's classes subclass Django's (they run on the event loop under ASGI).
Django's security checks look for Django's own dotted paths in MIDDLEWARE, so they
reported SecurityMiddleware, XFrameOptionsMiddleware and CsrfViewMiddleware missing
(security.W001-W003) and, believing them absent, skipped every check that depends on
them: HSTS (W004, W005, W021), nosniff (W006), the SSL redirect (W008), X-Frame-Options
DENY (W019), the referrer and opener policies, and the CSRF and session cookies' Secure
and HttpOnly flags. Silencing W001-W003 would have left those skipped. Here each of
Django's "is it installed?" helpers asks whether it, or a subclass, is.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.checks.security import base, csrf, sessions
from django.utils.module_loading import import_string


def _installed(path: str) -> Callable[[], bool]:
    def installed() -> bool:
        wanted = import_string(path)
        for entry in settings.MIDDLEWARE:
            middleware = import_string(entry)
            if isinstance(middleware, type) and issubclass(middleware, wanted):
                return True
        return False

    return installed


def see_subclassed_middleware() -> None:
    """Called once, from an app's ready() (chat/apps.py)."""
    base._security_middleware = _installed("django.middleware.security.SecurityMiddleware")
    base._xframe_middleware = _installed("django.middleware.clickjacking.XFrameOptionsMiddleware")
    csrf._csrf_middleware = _installed("django.middleware.csrf.CsrfViewMiddleware")
    sessions._session_middleware = _installed("django.contrib.sessions.middleware.SessionMiddleware")
