"""Staff read handoff reasons and history events in words, in their own language: the
frames carry codes, which several dashboards in different languages share, and the
page carries the words (chat/staff_views.case_labels)."""

from __future__ import annotations

import json
import re

import pytest

from chat.handoff import Reason
from chat.models import ConversationEvent


def words_on(page) -> dict[str, str]:
    found = re.search(r'<script id="case-labels" type="application/json">(.*?)</script>', page.content.decode())
    return json.loads(found.group(1))


@pytest.mark.django_db
def test_the_dashboard_has_words_for_every_handoff_reason_and_history_event_in_the_agents_language(client, alice):
    client.force_login(alice)
    english = words_on(client.get("/staff/", HTTP_ACCEPT_LANGUAGE="en"))
    chinese = words_on(client.get("/staff/", HTTP_ACCEPT_LANGUAGE="zh-hans"))

    reasons = {value for name, value in vars(Reason).items() if name.isupper()}
    codes = {f"reason_{r}" for r in reasons} | {f"event_{kind}" for kind in ConversationEvent.Kind.values}
    assert codes <= set(english) and codes <= set(chinese)
    assert english["reason_sentiment"] == "the player is upset"
    assert english["event_taken_over"] == "taken over"
    assert chinese["reason_sentiment"] == "玩家情绪激动"
    assert chinese["event_taken_over"] == "已接管"
    assert all(chinese[code] != english[code] for code in codes)  # every one of them translated


@pytest.mark.django_db
def test_the_case_names_its_intent_and_facts_as_the_admin_words_them_now(lin):
    from agents.models import Fact, Intent
    from chat.models import Conversation
    from chat.staff_selectors import case_of

    order, _ = Fact.objects.update_or_create(
        name="order_no", defaults={"label_en": "Order number", "label_zh": "订单号"}
    )
    intent, _ = Intent.objects.update_or_create(
        name="recharge_not_arrived", defaults={"label_en": "Top-up not received", "label_zh": "充值未到账"}
    )
    chat = Conversation.objects.create(
        player=lin, intent="recharge_not_arrived", facts={"order_no": "SL2025061201", "mood": "calm"}
    )
    before = case_of(chat.pk)["labels"]
    Intent.objects.filter(pk=intent.pk).update(label_zh="充值没到账")  # an edit in the admin
    Fact.objects.filter(pk=order.pk).update(label_en="Order no.")

    assert before == {
        "intent": {"en": "Top-up not received", "zh-hans": "充值未到账"},
        "facts": {"order_no": {"en": "Order number", "zh-hans": "订单号"}},  # "mood" has no words: its code shows
    }
    after = case_of(chat.pk)["labels"]
    assert after["intent"]["zh-hans"] == "充值没到账" and after["facts"]["order_no"]["en"] == "Order no."


@pytest.mark.django_db
def test_an_id_the_player_typed_reads_as_given_by_them_not_verified(lin):
    from agents.models import Fact
    from chat.admin_words import facts_in_words
    from chat.models import Conversation
    from chat.staff_selectors import case_of

    Fact.objects.update_or_create(name="player_id", defaults={"label_en": "Player ID", "label_zh": "玩家ID"})
    chat = Conversation.objects.create(player=lin, facts={"claimed_player_id": "55555555", "server": "S2"})

    assert case_of(chat.pk)["labels"]["facts"]["claimed_player_id"] == {
        "en": "Player ID (given by the player, not verified)",
        "zh-hans": "玩家ID（玩家自述，未验证）",
    }
    assert ("Player ID (given by the player, not verified)", "55555555") in facts_in_words(chat.facts)


@pytest.mark.django_db
def test_the_case_says_a_player_calm_now_was_angry_a_few_messages_ago(client, alice, lin):
    """Lin swore, then wrote "S3": his case said "calm (0.00)", and the agent read a calm player."""
    from chat.models import Conversation, Message
    from chat.services import message_append
    from chat.staff_selectors import MOOD_MESSAGES, case_of

    chat = Conversation.objects.create(player=lin)

    def wrote(text: str, score: float, level: str) -> None:
        meta = {"sentiment": {"score": score, "level": level}}
        message_append(conversation_id=chat.pk, sender=Message.Sender.PLAYER, text=text, meta=meta)

    wrote("You stole my money, scammers!!!", -1.0, "angry")
    wrote("this is taking forever", -0.5, "upset")
    wrote("S3", 0.0, "calm")
    case = case_of(chat.pk)
    assert (case["sentiment"], case["sentiment_level"], case["sentiment_earlier"]) == (0.0, "calm", "angry")

    for _ in range(MOOD_MESSAGES):
        wrote("ok", 0.0, "calm")
    assert case_of(chat.pk)["sentiment_earlier"] is None  # long past: calm, and nothing worse lately

    client.force_login(alice)
    chinese = client.get("/staff/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get("/staff/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '"sentiment_earlier_angry": "angry earlier"' in english
    assert '"sentiment_earlier_angry": "之前愤怒"' in chinese and '"sentiment_earlier_upset": "之前不满"' in chinese
