"""Knowledge gaps: questions the knowledge base found nothing for, grouped.

Each question is cut into the same index terms retrieval uses
(agents.knowledge.tokenize: jieba for Chinese, light stemming for English) and
joins the group whose label it shares most terms with, when the Jaccard
similarity of the two term sets reaches SIMILARITY; otherwise it starts a group.
Simple and explainable: a manager can see why two questions were grouped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from analytics.models import GapCluster, KnowledgeGap

SIMILARITY = 0.4
# Groups not seen for this long no longer take new questions (keeps the scan small).
ACTIVE_FOR = timedelta(days=90)
MAX_QUESTION_CHARS = 1000


def question_terms(question: str) -> list[str]:
    from agents.knowledge.tokenize import tokenize

    return sorted(set(tokenize(question)))


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def _best_cluster(terms: set[str], now: datetime) -> GapCluster | None:
    # No language filter: a Chinese question asked on an English page still has Chinese
    # terms, and terms of different languages never overlap anyway.
    best, best_score = None, 0.0
    for cluster in GapCluster.objects.filter(last_seen__gte=now - ACTIVE_FOR).only("pk", "terms"):
        score = jaccard(terms, set(cluster.terms))
        if score > best_score:
            best, best_score = cluster, score
    return best if best_score >= SIMILARITY else None


def knowledge_gap_record(
    *, question: str, conversation_id: int | None = None, language: str = "", at: datetime | None = None
) -> KnowledgeGap:
    """Record a question the knowledge base could not answer and put it in its group.

    `at` backdates the record (history imports); it defaults to now.
    """
    question = " ".join(question.split())[:MAX_QUESTION_CHARS]
    terms = question_terms(question)
    now = at or timezone.now()
    with transaction.atomic():
        cluster = _best_cluster(set(terms), now) if terms else None
        if cluster is None:
            cluster = GapCluster.objects.create(
                label=question[:500], language=language, terms=terms, first_seen=now, last_seen=now
            )
        GapCluster.objects.filter(pk=cluster.pk).update(
            question_count=F("question_count") + 1,
            first_seen=Least("first_seen", Value(now)),
            last_seen=Greatest("last_seen", Value(now)),
        )
        return KnowledgeGap.objects.create(
            cluster=cluster,
            question=question,
            terms=terms,
            language=language,
            conversation_id=conversation_id,
            created_at=now,
        )
