"""Visitors who loaded the player page and never opened the chat.

Every visitor without a player cookie gets a Player row with the page (chat/player_page.py),
so that the cookie can name them before their socket opens. A crawler, an uptime monitor or
a script fetching `/` over and over never runs the page's script: each fetch left a row for
good, as many as anyone cared to make. The page's script opens the socket at once, which
sets `last_seen_at`; an anonymous player without it, and without a conversation, a day
after their page, never came, and beat deletes them (chat.tasks.delete_silent_visitors).
A real visitor's tab that opened a day later finds its player gone and reloads as a new one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from chat.models import Player

SILENT_FOR = timedelta(days=1)
BATCH = 5000  # per run: a backlog goes over several runs, none holding the table long


def silent_visitors_delete(*, now: datetime | None = None) -> int:
    """Delete a batch of anonymous players who never connected; how many."""
    cutoff = (now or timezone.now()) - SILENT_FOR
    silent = Player.objects.filter(game_player_id=None, last_seen_at=None, created_at__lt=cutoff, conversations=None)
    ids = list(silent.values_list("pk", flat=True)[:BATCH])
    if not ids:
        return 0
    # Checked again in the DELETE: one whose socket opened meanwhile stays.
    _total, per_model = Player.objects.filter(pk__in=ids, last_seen_at=None, conversations=None).delete()
    return per_model.get(Player._meta.label, 0)
