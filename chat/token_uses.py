"""A game token signs a player in once.

The token travels in the page's URL (`/?token=…`, docs/protocol.md): it stays in the
browser's history and address bar, in proxies' logs, in a screenshot a player posts
when asking for help. Until its `exp` anyone holding it could open the chat as that
player, read their conversations and have the bot's tools look up their orders, bans
and mail. So its first use is recorded (the table's primary key settles two arriving at
once), and a later use is refused unless the browser is already that player (their
cookie says so: a reload of the page they were sent to), or it comes within
REUSE_GRACE_SECONDS: a double tap on the game's support button sends the link twice, and
the first response, with the cookie, may never reach the webview that cancelled it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.models import PlayerTokenUse

REUSE_GRACE_SECONDS = 30
# A use is kept until the token expires, but no longer than this: a backend that signs tokens
# for years (or for year 9999, past what a datetime holds) must not fill the table for good.
KEPT_AT_MOST = timedelta(days=400)


def token_usable(token: str, *, exp: int) -> bool:
    """Record the token's first use; False when it was first used longer ago than the grace.
    The token must be verified (chat/identity.py)."""
    now = timezone.now()
    PlayerTokenUse.objects.filter(expires_at__lt=now).delete()  # what could no longer be replayed anyway
    signature = token.rsplit(".", 1)[-1]
    try:
        with transaction.atomic():
            expires_at = datetime.fromtimestamp(min(exp, (now + KEPT_AT_MOST).timestamp()), tz=UTC)
            PlayerTokenUse.objects.create(signature=signature, used_at=now, expires_at=expires_at)
    except IntegrityError:
        since = now - timedelta(seconds=REUSE_GRACE_SECONDS)
        return PlayerTokenUse.objects.filter(signature=signature, used_at__gte=since).exists()
    return True
