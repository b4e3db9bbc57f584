"""Knowledge gaps: questions the knowledge base found nothing for, grouped.

Each question is cut into the same index terms retrieval uses
(agents.knowledge.tokenize: jieba for Chinese, light stemming for English) and
joins the group whose label it shares most terms with, when the Jaccard
similarity of the two term sets reaches SIMILARITY; otherwise it starts a group.
Simple and explainable: a manager can see why two questions were grouped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
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


@dataclass
class _Group:
    terms: frozenset[str]
    last_seen: datetime


class GapGroups:
    """The groups that gaps asked from `since` on can join, read once, indexed by term.

    A gap compares itself only with the groups that share one of its terms (a Jaccard
    similarity of SIMILARITY needs one), not with every active group: reading and
    comparing all of them for each gap made a batch cost its size times the number of
    groups, and a game's unanswered questions make thousands of groups in ACTIVE_FOR
    (docs/benchmarks.md, "The tenth round"). Made per batch (analytics/tasks.py, history
    imports), it follows the groups the batch creates and joins.
    """

    def __init__(self, since: datetime) -> None:
        self.groups: dict[int, _Group] = {}
        self.by_term: dict[str, list[int]] = defaultdict(list)
        active = GapCluster.objects.filter(last_seen__gte=since).order_by("pk")
        for pk, terms, last_seen in active.values_list("pk", "terms", "last_seen"):
            self._add(pk, terms, last_seen)

    def best(self, terms: set[str], now: datetime) -> int | None:
        """The group a gap asked at `now` with these terms joins, or None for a new one."""
        # No language filter: a Chinese question asked on an English page still has Chinese
        # terms, and terms of different languages never overlap anyway.
        best, best_score = None, 0.0
        for pk in sorted({pk for term in terms for pk in self.by_term.get(term, ())}):
            group = self.groups[pk]
            if group.last_seen < now - ACTIVE_FOR:
                continue
            score = jaccard(terms, group.terms)
            if score > best_score:
                best, best_score = pk, score
        return best if best_score >= SIMILARITY else None

    def joined(self, pk: int, terms: list[str], now: datetime) -> None:
        group = self.groups.get(pk)
        if group is None:
            self._add(pk, terms, now)
        else:
            group.last_seen = max(group.last_seen, now)

    def _add(self, pk: int, terms: list[str], last_seen: datetime) -> None:
        self.groups[pk] = _Group(frozenset(terms), last_seen)
        for term in self.groups[pk].terms:
            self.by_term[term].append(pk)


def knowledge_gap_record(
    *,
    question: str,
    conversation_id: int | None = None,
    language: str = "",
    at: datetime | None = None,
    groups: GapGroups | None = None,
) -> KnowledgeGap:
    """Record a question the knowledge base could not answer and put it in its group.

    `at` backdates the record (history imports); it defaults to now. `groups`: the
    batch's GapGroups, read from at least `at` - ACTIVE_FOR (else read here).
    """
    question = " ".join(question.split())[:MAX_QUESTION_CHARS]
    terms = question_terms(question)
    now = at or timezone.now()
    if groups is None:
        groups = GapGroups(now - ACTIVE_FOR)
    with transaction.atomic():
        pk = groups.best(set(terms), now) if terms else None
        if pk is None:
            pk = GapCluster.objects.create(
                label=question[:500], language=language, terms=terms, first_seen=now, last_seen=now
            ).pk
        GapCluster.objects.filter(pk=pk).update(
            question_count=F("question_count") + 1,
            first_seen=Least("first_seen", Value(now)),
            last_seen=Greatest("last_seen", Value(now)),
        )
        gap = KnowledgeGap.objects.create(
            cluster_id=pk,
            question=question,
            terms=terms,
            language=language,
            conversation_id=conversation_id,
            created_at=now,
        )
    groups.joined(pk, terms, now)  # after the commit: a rolled-back group isn't joined
    return gap
