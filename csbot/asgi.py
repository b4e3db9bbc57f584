"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import asyncio
import logging
import os
import sys
import threading

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
django.setup(set_prefix=False)  # as get_asgi_application() does, before the imports below

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from csbot import https_checks  # noqa: E402
from csbot.asgi_http import PooledThreadsASGIHandler, PooledThreadsStaticFilesHandler  # noqa: E402
from csbot.routing import websocket_urlpatterns  # noqa: E402

# Django's handler, its per-request thread lent from a pool (csbot/asgi_http.py).
django_http = PooledThreadsASGIHandler()


def _warm_up() -> None:
    """Start the helper processes (csbot/helper_pool.py), then load and freeze what every
    question needs (csbot/warm.py), off the request path (a second or two)."""
    import chat.views  # noqa: F401  (below)
    from csbot import helper_pool
    from csbot.warm import warm_and_freeze

    try:
        # After the views' import (the URLconf loads them at the first request): helpers
        # import the modules of what they will run, the page's among them, before their
        # first call.
        helper_pool.start()  # they set themselves up meanwhile
    except Exception:  # the first message starts them again, and says why if it can't
        logging.getLogger(__name__).exception("helper processes did not start")
    warm_and_freeze()


def _on_daphne() -> None:
    """Hook the answers' start and stop into daphne's reactor (chat/streaming/lifecycle.py):
    write this process's heartbeat (chat/streaming/heartbeat.py), sweep for answers
    orphaned by a process that died, and fail this process's running answers, telling
    their players, when it is stopped. On the embedded default, run the beat schedule
    too (csbot/embedded_beat.py)."""
    if "daphne.server" not in sys.modules:  # not served by daphne (the tests' in-process app)
        return
    from django.utils import timezone
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred

    from chat.streaming import heartbeat, lifecycle
    from csbot import embedded_beat
    from csbot.startup_summary import startup_summary

    started_at = timezone.now()
    tasks = set()  # the loop keeps only weak references to its tasks

    def on_start() -> None:
        logging.getLogger(__name__).info("%s", startup_summary())
        loop = asyncio.get_event_loop()
        tasks.add(loop.create_task(heartbeat.beat_forever()))
        tasks.add(loop.create_task(lifecycle.sweep_forever(started_at)))
        if embedded_beat.wanted():
            tasks.add(loop.create_task(embedded_beat.run_forever()))

    stopping = asyncio.Event()

    def before_shutdown() -> Deferred:
        # The reactor waits for the Deferred: the answers are stored before the process exits.
        stop = asyncio.get_event_loop().create_task(lifecycle.stop_answers())
        stop.add_done_callback(lambda _: stopping.set())
        return Deferred.fromFuture(stop)

    reactor.callWhenRunning(on_start)
    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    _kill_sockets_after(stopping)


def _kill_sockets_after(answers_stopped: asyncio.Event) -> None:
    """daphne cancels every connection's consumer as its shutdown begins (a shutdown trigger
    of its own, called with ours): the players' sockets of the answers let finish then took
    no frame from their pages, a question sent meanwhile neither refused nor answered, and
    their last frames were lost now and then. Its cancelling waits for the answers here.
    Patched on the class now: daphne binds the method when it registers the trigger."""
    from daphne.server import Server
    from twisted.internet.defer import Deferred

    kill = Server.kill_all_applications

    def kill_after_the_answers(server: Server) -> Deferred:
        waited = Deferred.fromFuture(asyncio.ensure_future(answers_stopped.wait()))
        return waited.addBoth(lambda _: kill(server))

    Server.kill_all_applications = kill_after_the_answers


# daphne runs no system checks: a redirect that would loop is told here, in the web process's log.
https_checks.warn_at_startup()
if settings.WARM_UP_ON_START:
    threading.Thread(target=_warm_up, name="csbot-warm-up", daemon=True).start()
_on_daphne()

application = ProtocolTypeRouter(
    {
        # Static files (our own and the npm-installed vendor libraries) are served
        # by the app itself unless a front proxy does it (SERVE_STATIC=false).
        "http": PooledThreadsStaticFilesHandler(django_http) if settings.SERVE_STATIC else django_http,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
