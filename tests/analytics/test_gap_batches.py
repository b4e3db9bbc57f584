"""Knowledge gaps found while answering reach analytics in batches.

The answer job only collects a gap on the event loop; the process sends what it
collected as one Celery task. These tests run on the embedded default (Celery
eager): the task runs in a worker thread, so the gaps are really recorded.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from asgiref.sync import sync_to_async
from celery.signals import task_prerun

from agents.pipeline.context import Context
from agents.pipeline.postprocess import record_gap
from analytics.gap_batch import batcher
from analytics.hooks import collect_knowledge_gap
from analytics.models import GapCluster, KnowledgeGap
from analytics.tasks import gap_item, knowledge_gap, knowledge_gaps
from chat.models import Conversation, Player

# The questions of test_gaps.py's grouping test, and the groups they make there.
QUESTIONS = [
    ("角色可以转服吗", "zh-hans"),
    ("怎么转服", "zh-hans"),
    ("公会战什么时候开始", "zh-hans"),
    ("How do I transfer my character to another server?", "en"),
    ("can I transfer character to a different server", "en"),
]
GROUPS = {"角色可以转服吗": 4, "公会战什么时候开始": 1}


@pytest.fixture
def gap_tasks():
    """The knowledge-gap tasks that ran, in order: (name, the items of knowledge_gaps or the old task's args)."""
    ran: list[tuple[str, list]] = []

    def seen(sender=None, args=None, **_kwargs):
        name = sender.name.rsplit(".", 1)[1]
        if name in ("knowledge_gaps", "knowledge_gap"):
            ran.append((name, args[0] if name == "knowledge_gaps" else list(args)))

    task_prerun.connect(seen, weak=False)
    yield ran
    task_prerun.disconnect(seen)


async def eventually(check, timeout: float = 10.0):
    """Wait until `check()` (run in a thread: it may query) is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await sync_to_async(check)():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def groups() -> dict[str, int]:
    return dict(GapCluster.objects.values_list("label", "question_count"))


@pytest.mark.django_db(transaction=True)
async def test_gaps_asked_together_go_in_one_task_and_are_grouped_as_before(settings, gap_tasks):
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 0.3
    player = await Player.objects.acreate(language="zh-hans")
    conversation = await Conversation.objects.acreate(player=player)

    for question, language in QUESTIONS:
        await record_gap(Context(history=[], question=question, language=language, conversation_id=conversation.pk))
    assert gap_tasks == []  # the answers did not wait for analytics

    await eventually(lambda: KnowledgeGap.objects.count() == len(QUESTIONS))
    assert [(name, [item[:3] for item in items]) for name, items in gap_tasks] == [
        ("knowledge_gaps", [[question, conversation.pk, language] for question, language in QUESTIONS])
    ]
    assert await sync_to_async(groups)() == GROUPS
    assert await KnowledgeGap.objects.filter(conversation=conversation).acount() == len(QUESTIONS)


@pytest.mark.django_db(transaction=True)
async def test_a_full_batch_goes_at_once_and_the_rest_waits_for_the_next(settings, gap_tasks):
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 60
    settings.KNOWLEDGE_GAP_BATCH_MAX = 3

    for question in ["pets", "mounts", "guilds", "raids"]:
        collect_knowledge_gap(f"how do {question} work", None, "en")

    await eventually(lambda: KnowledgeGap.objects.count() == 3)
    await asyncio.sleep(0.3)
    assert [[item[0] for item in items] for _, items in gap_tasks] == [
        ["how do pets work", "how do mounts work", "how do guilds work"]
    ]
    await batcher().flush()  # what a shutdown could do
    assert [[item[0] for item in items] for _, items in gap_tasks][1:] == [["how do raids work"]]
    assert await KnowledgeGap.objects.acount() == 4


@pytest.mark.django_db(transaction=True)
async def test_a_gap_that_cannot_be_recorded_does_not_lose_the_others(settings, gap_tasks, caplog):
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 60
    player = await Player.objects.acreate(language="en")
    erased, kept = [await Conversation.objects.acreate(player=player) for _ in range(2)]

    collect_knowledge_gap("can I breed dragons", kept.pk, "en")
    collect_knowledge_gap("where is the desert zone", erased.pk, "en")
    collect_knowledge_gap("how do I tame a griffin", None, "en")
    erased_id = erased.pk
    await erased.adelete()  # before the batch is sent
    with caplog.at_level(logging.ERROR, logger="analytics.tasks"):
        await batcher().flush()

    assert len(gap_tasks) == 1
    recorded = await sync_to_async(lambda: sorted(KnowledgeGap.objects.values_list("question", "conversation_id")))()
    assert recorded == [("can I breed dragons", kept.pk), ("how do I tame a griffin", None)]
    assert f"could not record a knowledge gap of conversation {erased_id}" in caplog.text


def test_a_batch_delivered_twice_records_its_gaps_once(db):
    items = [gap_item("宠物怎么进化", None, "zh-hans"), gap_item("宠物进化需要什么材料", None, "zh-hans")]

    knowledge_gaps(items)
    knowledge_gaps(items)  # acks_late: redelivered after a worker died

    assert KnowledgeGap.objects.count() == 2
    assert groups() == {"宠物怎么进化": 2}


def test_gaps_queued_before_the_batches_existed_still_run(db, gap_tasks):
    knowledge_gap.delay("宠物怎么进化", None, "zh-hans")  # the old one-gap task
    knowledge_gaps.delay([["宠物进化需要什么材料", None, "zh-hans"]])  # an item without its time

    assert [name for name, _ in gap_tasks] == ["knowledge_gap", "knowledge_gaps"]
    assert groups() == {"宠物怎么进化": 2}


def test_a_gap_collected_outside_an_event_loop_takes_the_synchronous_path(db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        collect_knowledge_gap("宠物怎么进化", None, "zh-hans")
        assert KnowledgeGap.objects.count() == 0  # after the commit, as on_knowledge_gap

    assert groups() == {"宠物怎么进化": 1}


@pytest.mark.django_db(transaction=True)
async def test_on_the_embedded_default_a_batch_is_grouped_in_a_helper_not_beside_the_streams(settings, gap_tasks):
    """Celery eager runs the task where it is sent: in a thread of the web process it
    took the GIL from the loop that relays every answer's chunks."""
    from csbot import helper_pool

    assert settings.CELERY_TASK_ALWAYS_EAGER
    settings.HELPER_PROCESSES = 1
    settings.KNOWLEDGE_GAP_BATCH_SECONDS = 60
    await helper_pool.ready()
    try:
        for question, language in QUESTIONS:
            collect_knowledge_gap(question, None, language)
        await batcher().flush()

        assert await sync_to_async(groups)() == GROUPS
        assert gap_tasks == []  # recorded, and no task ran in this process
    finally:
        helper_pool.shutdown()


def test_when_a_batch_cannot_be_written_together_its_gaps_are_recorded_one_at_a_time(db, monkeypatch, caplog):
    from django.db import OperationalError

    from analytics.services import gaps

    together = gaps.knowledge_gaps_record

    def refused_together(asked, *, groups):
        if len(asked) > 1:
            raise OperationalError("database is locked")
        return together(asked, groups=groups)

    monkeypatch.setattr(gaps, "knowledge_gaps_record", refused_together)
    with caplog.at_level(logging.WARNING, logger="analytics.tasks"):
        knowledge_gaps([gap_item(question, None, language) for question, language in QUESTIONS])

    assert groups() == GROUPS
    assert "recording 5 knowledge gaps together failed; one at a time instead" in caplog.text
