"""From a figure to the chats behind it: a manager who read that players asked about a crash
the knowledge base does not cover, or that a tenth of the ratings were 1 or 2, had no way from
the page to those chats, to read what the players wrote."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from analytics.hooks import knowledge_gap_record
from chat.models import Conversation

pytestmark = pytest.mark.django_db


def links(html: str) -> dict[str, str]:
    """Each link of the page's tables by its text."""
    tables = "".join(re.findall(r'<table class="an-table".*?</table>', html, flags=re.S))
    return {
        re.sub(r"<[^>]+>", "", text).strip(): unescape(href)
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', tables, flags=re.S)
    }


def rows(html: str) -> list[list[str]]:
    body = re.search(r'data-testid="chats-table">.*?<tbody>(.*?)</tbody>', html, flags=re.S).group(1)
    return [
        [
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    ]


def test_a_knowledge_gaps_count_leads_to_the_chats_where_its_questions_were_asked(client, mia, players):
    crash = [Conversation.objects.create(player=p, language="en") for p in players[:2]]
    other = Conversation.objects.create(player=players[2])
    knowledge_gap_record(question="crash on android 12 after update", conversation_id=crash[0].pk, language="en")
    knowledge_gap_record(question="android 12 crash after the update", conversation_id=crash[1].pk, language="en")
    knowledge_gap_record(question="宠物怎么进化", conversation_id=other.pk, language="zh-hans")
    client.force_login(mia)

    today = timezone.localdate()
    gaps = client.get("/analytics/gaps/?start=" + str(today - timedelta(days=6))).content.decode()
    to_chats = links(gaps)["2"]
    assert to_chats.startswith(f"/analytics/chats/?start={today - timedelta(days=6)}&end={today}&gap=")
    page = client.get(to_chats).content.decode()

    assert (
        "A question like “crash on android 12 after update” was asked that the knowledge base could not answer" in page
    )
    assert "2 chats." in page
    listed = rows(page)
    assert [r[0] for r in listed] == [f"#{crash[1].pk} {players[1]}", f"#{crash[0].pk} {players[0]}"]
    assert [r[-1] for r in listed] == ["android 12 crash after the update", "crash on android 12 after update"]
    assert [r[3] for r in listed] == ["Still open", "Still open"]
    # Each chat opens on the dashboard, its messages there to read.
    assert links(page)[listed[0][0]] == f"/staff/c/{crash[1].pk}/"
    # Another range keeps to the same chats.
    assert re.search(r'<input type="hidden" name="gap" value="\d+">', page)

    chinese = client.get(to_chats, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "问过类似“crash on android 12 after update”的问题，知识库未能解答" in chinese
    assert "2 个对话。" in chinese and [r[3] for r in rows(chinese)] == ["仍在进行", "仍在进行"]
