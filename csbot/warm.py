"""A process's start-up: what every question needs, loaded before the first one, then frozen.

The web process runs it in its warm-up thread (csbot/asgi.py), each helper
process before its first call (csbot/helper_pool.py).
"""

from __future__ import annotations

import gc
import logging
import threading

log = logging.getLogger(__name__)

_done = threading.Event()


def warmed() -> bool:
    """This process has run warm_and_freeze (csbot/readiness.py)."""
    return _done.is_set()


def warm_and_freeze() -> None:
    """Load jieba's dictionary and the knowledge index (about a second), then freeze what
    is loaded.

    It lives as long as the process (Django, the index, jieba: ~135,000 objects), so it is
    kept out of the garbage collector's full passes, which otherwise walk it again every
    few seconds under load and stop every stream while they do (docs/benchmarks-history.md,
    "The fifth round": chunk p99 136-204 -> 8-12 ms at 1,000 chats).
    """
    from django.db import close_old_connections

    from agents.knowledge.retrieval import warm_up

    try:
        warm_up()
    except Exception:  # an empty or not-yet-migrated database: the first question builds it
        log.debug("warm-up skipped", exc_info=True)
    finally:
        close_old_connections()
    _load_what_answers_load_late()
    gc.collect()
    gc.freeze()
    _done.set()


def _load_what_answers_load_late() -> None:
    """What an answer path loads the first time it is taken, loaded now instead.

    The first knowledge gap imports analytics (agents/pipeline/postprocess.py), and the
    first batch of gaps finalizes the Celery app (its built-in tasks, their imports): done
    in the middle of the answers streaming then, each held the event loop for 10-15 ms
    (docs/benchmarks-history.md, "The seventh round"). The first answer imported the LLM
    provider's module (aiohttp's client, the SSE parser): 70 ms ("The twelfth round").
    """
    try:
        import analytics.hooks  # noqa: F401
        from agents.providers import import_configured
        from csbot.celery import app

        app.finalize(auto=True)
        _load_the_broker_client(app)
        import_configured()
    except Exception:  # the answers load it themselves, late
        log.warning("could not load analytics, Celery and the LLM provider at start-up", exc_info=True)


def _load_the_broker_client(app) -> None:
    """The broker's transport, the result backend and the task sender, built now; nothing is connected.

    The first task a web process sends (its first batch of knowledge gaps, from a
    worker thread) imported kombu's Redis transport and Celery's result backend:
    about 50 ms of the GIL taken from the event loop, in the middle of a burst of
    answers (docs/benchmarks-history.md, "The nineteenth round"). No connection is made here:
    a broker that is down must not hold up the process's readiness, and the first
    send connects in a few milliseconds. Eager Celery (the embedded default) sends nothing.
    """
    if app.conf.task_always_eager:
        return
    with app.connection_for_write() as connection:
        connection.transport  # noqa: B018  imports and builds the transport class, no I/O
    app.backend  # noqa: B018  the result backend: its module and client, no I/O
    app.amqp.send_task_message  # noqa: B018  the sender and its (disabled) event dispatcher, no I/O
