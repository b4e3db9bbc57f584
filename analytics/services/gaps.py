"""Knowledge gaps: questions the knowledge base found nothing for, grouped.

Each question is cut into the same index terms retrieval uses
(agents.knowledge.tokenize: jieba for Chinese, light stemming for English), with
the English words of support chats written as their Chinese first, so that the
same question meets in either language (gap_words.py), and
joins the group whose label it shares most terms with, when the Jaccard
similarity of the two term sets reaches SIMILARITY; otherwise it starts a group.
Simple and explainable: a manager can see why two questions were grouped.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from analytics.models import GapCluster, KnowledgeGap
from chat.models import Conversation
from csbot.fastsql import column, table

SIMILARITY = 0.4
# Groups not seen for this long no longer take new questions (keeps the scan small).
ACTIVE_FOR = timedelta(days=90)
MAX_QUESTION_CHARS = 1000


def question_terms(question: str) -> list[str]:
    from analytics.services.gap_words import question_terms

    return question_terms(question)


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
    (docs/benchmarks-history.md, "The tenth round"). Made per batch (analytics/tasks.py, history
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
        # No language filter: a question and its twin in the other language share their
        # terms (gap_words.py), and a Chinese question asked on an English page is Chinese.
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

    def _undo(self, planned: set[int], last_seen: dict[int, datetime]) -> None:
        """Forget what a batch that was rolled back planned (knowledge_gaps_record)."""
        for key in planned:
            for term in self.groups.pop(key).terms:
                self.by_term[term].remove(key)
        for pk, seen in last_seen.items():
            self.groups[pk].last_seen = seen

    def _renumber(self, pks: dict[int, int]) -> None:
        """Groups planned under stand-in keys (knowledge_gaps_record) now have their rows' pks."""
        for key, pk in pks.items():
            group = self.groups.pop(key)
            self.groups[pk] = group
            for term in group.terms:
                self.by_term[term] = [pk if k == key else k for k in self.by_term[term]]


def knowledge_gap_record(
    *,
    question: str,
    conversation_id: int | None = None,
    language: str = "",
    at: datetime | None = None,
    groups: GapGroups | None = None,
) -> KnowledgeGap:
    """Record a question the knowledge base could not answer and put it in its group:
    knowledge_gaps_record with a batch of one.

    `at` backdates the record (history imports); it defaults to now. `groups`: the
    batch's GapGroups, read from at least `at` - ACTIVE_FOR (else read here).
    """
    now = at or timezone.now()
    if groups is None:
        groups = GapGroups(now - ACTIVE_FOR)
    recorded, left_out = knowledge_gaps_record([AskedGap(question, conversation_id, language, now)], groups=groups)
    if left_out:
        raise Conversation.DoesNotExist(f"Conversation {conversation_id} does not exist.")
    return recorded[0]


@dataclass(frozen=True)
class AskedGap:
    """A question the knowledge base had nothing for, as knowledge_gaps_record takes it."""

    question: str
    conversation_id: int | None
    language: str
    at: datetime


# Stand-in keys of the groups a batch creates, until their rows have pks: above every real
# pk and in the order they were made, so that ties go the same way as one gap at a time.
_PLANNED = 1 << 62


def knowledge_gaps_record(asked: list[AskedGap], *, groups: GapGroups) -> tuple[list[KnowledgeGap], list[AskedGap]]:
    """Record several gaps in one transaction, grouped exactly as if recorded one after
    another; returns the gaps recorded, and those left out because their conversation no
    longer exists (erased: its words must not be kept).

    One at a time, each gap was a transaction of three statements the ORM builds: about
    3 ms of CPU a gap on SQLite. On the embedded default that ran in the web process
    every few seconds, beside the streams (docs/benchmarks-history.md, "The sixteenth round").
    Here the groups are planned in Python, then written with a few bulk statements.
    Raises on a database error, with nothing written and `groups` as it was: the caller
    may go on one gap at a time.
    """
    wanted = {gap.conversation_id for gap in asked} - {None}
    existing = set(Conversation.objects.filter(pk__in=wanted).values_list("pk", flat=True)) if wanted else set()
    gone = wanted - existing
    planned: dict[int, GapCluster] = {}  # stand-in key -> the new group's row
    joined: dict[int, list] = {}  # an existing group's pk -> [questions, first asked, last asked]
    last_seen = {}  # an existing group's pk -> its last_seen before this batch
    rows: list[tuple[int, KnowledgeGap]] = []
    for gap in asked:
        if gap.conversation_id in gone:
            continue
        question = " ".join(gap.question.split())[:MAX_QUESTION_CHARS]
        terms = question_terms(question)
        pk = groups.best(set(terms), gap.at) if terms else None
        if pk is None:
            pk = _PLANNED + len(planned)
            planned[pk] = GapCluster(
                label=question[:500], language=gap.language, terms=terms, question_count=0,
                first_seen=gap.at, last_seen=gap.at,
            )  # fmt: skip
        if pk in planned:
            cluster = planned[pk]
            cluster.question_count += 1
            cluster.first_seen, cluster.last_seen = min(cluster.first_seen, gap.at), max(cluster.last_seen, gap.at)
        else:
            last_seen.setdefault(pk, groups.groups[pk].last_seen)
            seen = joined.setdefault(pk, [0, gap.at, gap.at])
            seen[0], seen[1], seen[2] = seen[0] + 1, min(seen[1], gap.at), max(seen[2], gap.at)
        groups.joined(pk, terms, gap.at)
        row = KnowledgeGap(
            question=question, terms=terms, language=gap.language, conversation_id=gap.conversation_id,
            created_at=gap.at,
        )  # fmt: skip
        rows.append((pk, row))
    try:
        with transaction.atomic():
            _insert(list(planned.values()))
            pks = {key: cluster.pk for key, cluster in planned.items()}
            if joined:
                with connection.cursor() as cursor:
                    cursor.executemany(
                        _join_sql(connection.vendor),
                        [(n, _when(first), _when(last), pk) for pk, (n, first, last) in joined.items()],
                    )
            for pk, row in rows:
                row.cluster_id = pks.get(pk, pk)
            recorded = _insert([row for _, row in rows])
    except BaseException:
        groups._undo(set(planned), last_seen)  # a rolled-back group isn't joined
        raise
    groups._renumber(pks)
    return recorded, [gap for gap in asked if gap.conversation_id in gone]


def _insert(rows: list) -> list:
    """Insert these unsaved rows of one model, each given its pk."""
    if connection.features.can_return_rows_from_bulk_insert:
        return type(rows[0]).objects.bulk_create(rows) if rows else rows
    for row in rows:  # SQLite before 3.35: no pks back from a bulk insert
        row.save(force_insert=True)
    return rows


def _when(at: datetime) -> object:
    return GapCluster._meta.get_field("last_seen").get_db_prep_save(at, connection)


@functools.cache
def _join_sql(vendor: str) -> str:
    """An existing group takes n more questions, asked between two times (one statement per group)."""
    least, greatest = ("MIN", "MAX") if vendor == "sqlite" else ("LEAST", "GREATEST")
    count, first, last, pk = (column(GapCluster, f) for f in ("question_count", "first_seen", "last_seen", "id"))
    return (
        f"UPDATE {table(GapCluster)} SET {count} = {count} + %s, {first} = {least}({first}, %s), "
        f"{last} = {greatest}({last}, %s) WHERE {pk} = %s"
    )
