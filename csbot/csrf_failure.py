"""The page of a refused form (CSRF_FAILURE_VIEW), for the refusal an operator meets first.

With DEBUG off the CSRF and session cookies are Secure (SESSION_COOKIE_SECURE,
CSRF_COOKIE_SECURE): a browser that loaded the sign-in page over plain http, as on a
first try of a deployment before its https works, drops the CSRF cookie, and the sign-in
was refused with Django's page, which tells staff to enable cookies. Here, that page says
that the sign-in needs https, and the log tells the operator what to set. Every other
refusal keeps Django's page.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.middleware.csrf import REASON_NO_CSRF_COOKIE
from django.shortcuts import render
from django.views.csrf import csrf_failure as django_csrf_failure

log = logging.getLogger(__name__)


def csrf_failure(request, reason: str = ""):
    if reason != REASON_NO_CSRF_COOKIE or request.is_secure() or not settings.CSRF_COOKIE_SECURE:
        return django_csrf_failure(request, reason)
    log.warning(
        "a form sent over plain http was refused: the CSRF cookie goes over https only (CSRF_COOKIE_SECURE, "
        "on with DEBUG off), which the browser does not send back over http. Serve csbot over https, or on "
        "plain http set CSRF_COOKIE_SECURE=false and SESSION_COOKIE_SECURE=false (README, Production)"
    )
    return render(request, "csrf_https.html", status=403)
