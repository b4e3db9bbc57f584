"""From a figure to the chats behind it: a manager who read that players asked about a crash
the knowledge base does not cover, or that a tenth of the ratings were 1 or 2, had no way from
the page to those chats, to read what the players wrote."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from analytics.hooks import csat_record, knowledge_gap_record
from analytics.services import aggregation
from analytics.tasks import on_conversation_closed
from chat.models import Conversation
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

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


RANGE = "start=2025-03-03&end=2025-03-03"


@pytest.fixture
def monday(players, alice, django_capture_on_commit_callbacks):
    """Four chats of a Monday: one handed to Alice and rated 1, one the bot answered and rated 2,
    one rated 5, and one whose player asked for a person nobody took."""
    p1, p2, p3, p4, _p5 = players
    hour = timedelta(hours=1)
    chats = {
        "angry": Chat(p1, T0, intent="recharge_not_arrived")
        .player(0, "充值没到账")
        .bot(2)
        .escalate(30, "dont_know")
        .take_over(60, alice)
        .agent(90, alice)
        .close(300, by=alice),
        "meh": Chat(p2, T0 + hour, intent="recharge_not_arrived").player(0, "充值没到").bot(2).close(120),
        "happy": Chat(p3, T0 + 2 * hour, intent="events").player(0, "活动什么时候开始").bot(2).close(120),
        "left": Chat(p4, T0 + 3 * hour, intent="lost_item")
        .player(0, "转人工")
        .escalate(5, "player_request")
        .close(600),
    }
    with django_capture_on_commit_callbacks(execute=True):
        for chat in chats.values():
            on_conversation_closed(chat.pk)
    csat_record(conversation_id=chats["angry"].pk, score=1, comment="等了好久")
    csat_record(conversation_id=chats["meh"].pk, score=2)
    csat_record(conversation_id=chats["happy"].pk, score=5, comment="谢谢")
    aggregation.aggregate_dirty()
    return {name: chat.conversation for name, chat in chats.items()}


def test_the_overviews_low_ratings_lead_to_the_chats_rated_1_or_2_with_their_comments(monday, client, mia):
    client.force_login(mia)

    overview = client.get("/analytics/?" + RANGE).content.decode()
    low = re.search(r'<a href="([^"]+)" data-testid="csat-low">([^<]+)</a>', overview)
    assert low.group(2) == "2 rated 1 or 2"
    page = client.get(unescape(low.group(1))).content.decode()

    assert "Rated 1–2 out of 5" in page and "2 chats." in page
    angry, meh = monday["angry"], monday["meh"]
    assert [(r[0], r[3], r[4], r[5]) for r in rows(page)] == [
        (f"#{meh.pk} {meh.player}", "Resolved by the bot", "–", "2"),
        (f"#{angry.pk} {angry.player}", "Handed off to a human The bot could not answer", "Alice", "1 等了好久"),
    ]
    chinese = client.get(unescape(low.group(1)), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "评分 1–2（满分 5）" in chinese
    overview_in_chinese = client.get("/analytics/?" + RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "评 1 或 2 分的有 2 个" in overview_in_chinese


def test_an_intent_and_a_handoff_reason_lead_to_their_chats(monday, client, mia):
    client.force_login(mia)

    intents = links(client.get("/analytics/intents/?" + RANGE).content.decode())
    page = client.get(intents["Top-up not received"]).content.decode()
    assert "Intent: Top-up not received" in page
    assert [r[0] for r in rows(page)] == [f"#{c.pk} {c.player}" for c in (monday["meh"], monday["angry"])]

    overview = client.get("/analytics/?" + RANGE).content.decode()
    # The handoff reasons' table: one chat where the player asked for a person, one the bot could not answer.
    asked = re.search(r'<td>The player asked for a person</td>\s*<td><a href="([^"]+)">1</a>', overview)
    page = client.get(unescape(asked.group(1))).content.decode()
    assert "Handed to a human: The player asked for a person" in page
    left = monday["left"]
    assert [(r[0], r[4]) for r in rows(page)] == [(f"#{left.pk} {left.player}", "–")]

    chinese = client.get(intents["Top-up not received"], HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "意图：充值未到账" in chinese


def test_an_agents_name_leads_to_her_chats_and_the_chats_nobody_took_to_theirs(monday, client, mia):
    client.force_login(mia)
    agents = client.get("/analytics/agents/?" + RANGE).content.decode()

    alice = client.get(links(agents)["Alice"]).content.decode()
    assert "Agent: Alice" in alice
    angry = monday["angry"]
    assert [(r[0], r[4], r[5]) for r in rows(alice)] == [(f"#{angry.pk} {angry.player}", "Alice", "1 等了好久")]

    untaken = re.search(r'data-testid="agents-untaken">.*?<a href="([^"]+)">1</a>', agents, re.S).group(1)
    nobody = client.get(unescape(untaken)).content.decode()
    assert "Agent: Not taken by anyone" in nobody
    assert [r[0] for r in rows(nobody)] == [f"#{monday['left'].pk} {monday['left'].player}"]
    assert "客服：无人接手" in client.get(unescape(untaken), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
