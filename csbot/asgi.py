"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import gc
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
    """Load jieba's dictionary and the knowledge index, start the helper processes
    (csbot/helper_pool.py) and freeze what is loaded, off the request path (a second or two)."""
    from django.db import close_old_connections

    from agents.knowledge.retrieval import warm_up
    from csbot import helper_pool

    try:
        warm_up()
    except Exception:  # an empty or not-yet-migrated database: the first question builds it
        pass
    finally:
        close_old_connections()
    try:
        helper_pool.start()
    except Exception:  # the first message starts them again, and says why if it can't
        logging.getLogger(__name__).exception("helper processes did not start")
    # What is loaded by now (Django, the index, jieba: ~135,000 objects) lives as long as
    # the process: keep it out of the garbage collector's full passes, which otherwise walk
    # it again every few seconds under load and stop every stream while they do
    # (docs/benchmarks.md, "The fifth round": chunk p99 136-204 -> 8-12 ms at 1,000 chats).
    gc.collect()
    gc.freeze()


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
