"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import logging
import os
import threading

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
django_http = get_asgi_application()  # sets Django up before the imports below

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from csbot.routing import websocket_urlpatterns  # noqa: E402


def _warm_up() -> None:
    """Start the helper processes (csbot/helper_pool.py), then load and freeze what every
    question needs (csbot/warm.py), off the request path (a second or two)."""
    from csbot import helper_pool
    from csbot.warm import warm_and_freeze

    try:
        helper_pool.start()  # they set themselves up meanwhile
    except Exception:  # the first message starts them again, and says why if it can't
        logging.getLogger(__name__).exception("helper processes did not start")
    warm_and_freeze()


if settings.WARM_UP_ON_START:
    threading.Thread(target=_warm_up, name="csbot-warm-up", daemon=True).start()

application = ProtocolTypeRouter(
    {
        # Static files (our own and the npm-installed vendor libraries) are served
        # by the app itself unless a front proxy does it (SERVE_STATIC=false).
        "http": ASGIStaticFilesHandler(django_http) if settings.SERVE_STATIC else django_http,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
