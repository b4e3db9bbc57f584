"""Celery tasks of the chat: thin, each calls a service and publishes what changed.

On the embedded default the web process runs them itself (csbot/embedded_beat.py), in a
thread whose async_to_sync runs on the web process's loop, so the frames reach its sockets;
with a broker a worker runs them and the frames go through the channel layer.
The beat schedule is CELERY_BEAT_SCHEDULE in csbot/settings.py.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from celery import shared_task

from chat import handoff, staff_notify
from chat.silent_visitors import silent_visitors_delete

log = logging.getLogger(__name__)


@shared_task(acks_late=True)
def requeue_abandoned_chats() -> int:
    """Chats held by an agent gone HELD_CHAT_ABANDONED_SECONDS back to the queue; how many."""
    changes = handoff.abandoned_chats_requeue()
    for change in changes:
        async_to_sync(staff_notify.announce)(change)
    if changes:
        log.warning("requeued %d chats held by agents who left", len(changes))
    return len(changes)


@shared_task(acks_late=True)
def delete_silent_visitors() -> int:
    """Anonymous players who loaded the page a day ago and never opened the chat; how many."""
    deleted = silent_visitors_delete()
    if deleted:
        log.info("deleted %d visitors who never opened the chat", deleted)
    return deleted
