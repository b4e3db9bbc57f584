"""`manage.py generate_history` shows what the product would: its intents, its handoff
reasons, and knowledge gaps asked in the conversation's language."""

from __future__ import annotations

import pytest

from agents import demo_brain
from analytics.history import HistoryGenerator
from analytics.models import ConversationStats, KnowledgeGap
from chat.handoff import REASON_LABELS

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(db):
    HistoryGenerator(conversations=400, days=5, seed=3).run(batch=400, log=lambda _line: None)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_the_history_uses_the_intents_of_the_demo_brain(history):
    product = {row[0] for row in demo_brain.INTENTS}
    seen = set(ConversationStats.objects.values_list("intent", flat=True))
    assert seen <= product
    assert {"recharge_not_arrived", "lost_items"} <= seen


def test_every_handoff_reason_of_the_history_has_a_label_for_staff(history):
    reasons = set(ConversationStats.objects.exclude(handoff_reason="").values_list("handoff_reason", flat=True))
    assert reasons and reasons <= set(REASON_LABELS)


def test_knowledge_gaps_are_asked_in_the_language_of_their_conversation(history):
    gaps = list(KnowledgeGap.objects.select_related("conversation"))
    assert {g.language for g in gaps} == {"en", "zh-hans"}
    for gap in gaps:
        assert gap.language == gap.conversation.language
        assert has_chinese(gap.question) == (gap.language == "zh-hans"), gap.question
