"""A batch of knowledge gaps is grouped exactly as the same gaps one at a time.

tests/analytics/test_gaps.py runs it on SQLite (in the test's database) and on
PostgreSQL (`manage.py shell` in a production environment): the batch writes
its groups' counts and times with SQL of its own for each database.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from analytics.models import GapCluster, KnowledgeGap
from analytics.services import gaps
from analytics.tasks import knowledge_gaps
from chat.models import Conversation, Player


class _Undo(Exception):
    pass


def _recorded() -> dict:
    labels = dict(GapCluster.objects.values_list("pk", "label"))
    groups = GapCluster.objects.order_by("label").values_list(
        "label", "language", "terms", "question_count", "first_seen", "last_seen"
    )
    asked = KnowledgeGap.objects.order_by("question", "created_at").values_list(
        "question", "cluster_id", "conversation_id", "language", "created_at"
    )
    return {
        "groups": [[label, language, terms, count, first.isoformat(), last.isoformat()]
                   for label, language, terms, count, first, last in groups],
        "gaps": [[question, labels[cluster], conversation, language, at.isoformat()]
                 for question, cluster, conversation, language, at in asked],
    }  # fmt: skip


def run() -> dict:
    now = timezone.now()
    conversation = Conversation.objects.create(player=Player.objects.create(language="zh-hans"))
    # Groups from before the batch: one of them last seen long ago, so the batch's
    # earlier question moves its first time back and its later one its last time on.
    gaps.knowledge_gap_record(question="宠物怎么进化", language="zh-hans", at=now - timedelta(days=10))
    gaps.knowledge_gap_record(question="zork blip quux", language="en", at=now - timedelta(days=1))
    asked = [
        ("宠物进化需要什么材料", conversation.pk, "zh-hans", now - timedelta(hours=1)),
        ("宠物怎么进化", None, "zh-hans", now - timedelta(days=20)),
        ("角色可以转服吗", conversation.pk, "zh-hans", now - timedelta(minutes=5)),
        ("怎么转服", None, "zh-hans", now - timedelta(minutes=4)),
        ("How do I transfer my character to another server?", None, "en", now - timedelta(minutes=3)),
        ("can I transfer character to a different server", None, "en", now - timedelta(minutes=2)),
        ("zork blip quux again", None, "en", now - timedelta(minutes=1)),
        ("???", None, "en", now),  # no terms: a group of its own, every time
        ("???", None, "en", now + timedelta(seconds=1)),
    ]
    items = [[question, cid, language, at.isoformat()] for question, cid, language, at in asked]

    one_by_one = None
    try:
        with transaction.atomic():
            groups = gaps.GapGroups(min(at for *_, at in asked) - gaps.ACTIVE_FOR)
            for question, cid, language, at in asked:
                gaps.knowledge_gap_record(
                    question=question, conversation_id=cid, language=language, at=at, groups=groups
                )
            one_by_one = _recorded()
            raise _Undo
    except _Undo:
        pass

    knowledge_gaps(items)  # the task: the whole batch at once
    batch = _recorded()
    for gap in batch["gaps"]:  # the conversation's id differs between databases
        gap[2] = "the conversation" if gap[2] == conversation.pk else gap[2]
    for gap in one_by_one["gaps"]:
        gap[2] = "the conversation" if gap[2] == conversation.pk else gap[2]
    return {"one_by_one": one_by_one, "batch": batch}


def printed() -> None:
    print(json.dumps(run()))
