"""A redirect to https that would loop: SECURE_SSL_REDIRECT without TRUST_X_FORWARDED_PROTO.

Behind a proxy that terminates TLS, daphne sees every request over plain http unless
it trusts the proxy's X-Forwarded-Proto (csbot/settings.py). SecurityMiddleware then
redirects even the requests that came in over https to https, the proxy passes the
next one on over http again, and browsers give up with "too many redirects" on every
page. A daphne that terminates TLS itself (its `-e ssl:…` endpoint) needs no header,
so this is a warning with a hint, not an error. It is shown by `manage.py check
--deploy` and logged when a web process starts (csbot/asgi.py), where the operator
who set the redirect looks when the site stops loading.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

logger = logging.getLogger(__name__)


@register(Tags.security, deploy=True)
def check_the_ssl_redirect_can_see_https(app_configs=None, **kwargs) -> list[CheckMessage]:
    if not settings.SECURE_SSL_REDIRECT or settings.SECURE_PROXY_SSL_HEADER:
        return []
    return [
        Warning(
            "SECURE_SSL_REDIRECT is on while X-Forwarded-Proto is not trusted: behind a proxy that "
            "terminates TLS every request looks like plain http and is redirected to https again, forever.",
            hint="Behind such a proxy set TRUST_X_FORWARDED_PROTO=true (the proxy must set "
            "X-Forwarded-Proto itself: README, Production). If daphne terminates TLS itself, "
            "nothing is wrong.",
            id="csbot.W001",
        )
    ]


def warn_at_startup() -> None:
    for message in check_the_ssl_redirect_can_see_https():
        logger.warning("%s", message)
