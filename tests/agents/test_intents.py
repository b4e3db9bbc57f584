"""What the player wants: the offline classifier, quick replies, and the LLM when one is configured."""

from __future__ import annotations

import pytest

from agents.catalogue import get_catalogue
from agents.classifier import IntentClassifier
from agents.pipeline import intent
from agents.pipeline.context import Context
from agents.providers import ChatMessage
from tests.agents.intent_phrases import HELD_OUT, VAGUE

pytestmark = pytest.mark.django_db


def context(question: str, **fields) -> Context:
    return Context(history=[ChatMessage("user", question)], question=question, language="zh-hans", **fields)


def test_the_offline_classifier_names_most_held_out_phrases_right(demo_brain):
    classifier = get_catalogue().classifier
    misses = [(q, want, classifier.classify(q).intent) for q, want in HELD_OUT if classifier.classify(q).intent != want]
    accuracy = 1 - len(misses) / len(HELD_OUT)
    print(f"\nintent accuracy on {len(HELD_OUT)} held-out phrases: {accuracy:.2f}; misses: {misses}")
    assert accuracy >= 0.85
    # An unclear phrase is not a wrong answer: it gets choices. A wrong intent is worse.
    wrong = [miss for miss in misses if miss[2]]
    assert len(wrong) <= 2, wrong


@pytest.mark.parametrize("phrase", VAGUE)
def test_a_vague_message_has_no_clear_intent(demo_brain, phrase):
    assert get_catalogue().classifier.classify(phrase).intent == ""


def test_no_phrase_of_the_held_out_set_is_an_admin_example(demo_brain):
    from agents.models import Intent

    examples = {line for intent in Intent.objects.all() for line in intent.example_list()}
    assert not examples & {phrase for phrase, _ in HELD_OUT}


def test_the_classifier_learns_a_new_intent_from_its_examples():
    classifier = IntentClassifier(
        {"guild_war": ["公会战什么时候开始", "guild war schedule"], "events": ["现在有什么活动", "current events"]}
    )
    assert classifier.classify("公会战几点开始").intent == "guild_war"
    assert classifier.classify("when is the guild war").intent == "guild_war"


async def test_a_clicked_quick_reply_names_its_intent(demo_brain):
    result = await intent.detect(context("Top-up not received", message_meta={"intent": "recharge_not_arrived"}))
    assert (result.name, result.source) == ("recharge_not_arrived", "quick_reply")


async def test_an_answer_with_the_asked_fact_continues_the_pending_intent(demo_brain):
    previous = {"intent": {"name": "refund"}, "asked": ["order_no"], "facts": {"missing": ["order_no"]}}
    result = await intent.detect(context("SL2025061201", last_bot_meta=previous))
    assert (result.name, result.source) == ("refund", "follow_up")


async def test_with_an_llm_configured_the_llm_names_the_intent(demo_brain, ernie_settings, settings):
    settings.INTENT_LLM = "always"
    ernie_settings.configure(reply=lambda question: "refund" if question.startswith("Message:") else "…")

    result = await intent.detect(context("这个东西我不想要了"))

    assert (result.name, result.source) == ("refund", "llm")
    sent = ernie_settings.requests[-1].body
    assert "refund:" in sent["system"] and sent["messages"][-1]["content"].startswith("Message: 这个东西我不想要了")


async def test_when_the_llm_fails_the_offline_classifier_decides(demo_brain, ernie_settings, settings):
    settings.INTENT_LLM = "always"
    settings.LLM_MAX_ATTEMPTS = 1
    ernie_settings.script("http_500")

    result = await intent.detect(context("我要退款"))

    assert (result.name, result.source) == ("refund", "classifier")


async def test_by_default_the_llm_is_asked_only_when_the_classifier_is_unsure(demo_brain, ernie_settings, settings):
    ernie_settings.configure(reply=lambda question: "none")

    sure = await intent.detect(context("我要退款"))
    unsure = await intent.detect(context("嗯"))

    assert (sure.name, sure.source) == ("refund", "classifier")
    assert (unsure.name, unsure.source) == ("", "llm")
    assert len(ernie_settings.requests) == 1  # chat requests: only the unsure one asked the LLM
