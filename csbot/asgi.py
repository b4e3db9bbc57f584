"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

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
    """Load jieba's dictionary and the knowledge index off the request path (about 1 s)."""
    from django.db import close_old_connections

    from agents.knowledge.retrieval import warm_up

    try:
        warm_up()
    except Exception:  # an empty or not-yet-migrated database: the first question builds it
        pass
    finally:
        close_old_connections()


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
