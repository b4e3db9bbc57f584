"""Customer satisfaction: the player's 1-5 rating after a chat closes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from analytics.models import ConversationStats, CsatRating
from analytics.services import aggregation

MAX_COMMENT_CHARS = 2000


class CsatError(ValueError):
    """The rating was refused; the message says why and can be shown to the player."""


def csat_record(*, conversation_id: int, score: int, comment: str = "") -> CsatRating:
    """Store the rating of a conversation; rating again replaces it.

    Raises CsatError for a score outside 1..5. The conversation's stats (if they
    exist yet) take the score at once, and its hour is re-aggregated.
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise CsatError("score must be an integer from 1 to 5")
    comment = (comment or "").strip()[:MAX_COMMENT_CHARS]
    now = timezone.now()
    with transaction.atomic():
        rating, _created = CsatRating.objects.update_or_create(
            conversation_id=conversation_id,
            defaults={"score": score, "comment": comment, "updated_at": now},
            create_defaults={"score": score, "comment": comment, "created_at": now, "updated_at": now},
        )
        stats = ConversationStats.objects.filter(pk=conversation_id)
        if stats.update(csat_score=score):
            aggregation.hours_mark_dirty(stats.values_list("closed_at", flat=True))
    return rating
