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
