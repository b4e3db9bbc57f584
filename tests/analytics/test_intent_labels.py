"""A manager reads intents by their names in the admin's Intent labels, in their own
language, on the intents page, its charts and its CSV; the slug only for an intent that no
longer exists."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest

from analytics.services import aggregation
from analytics.services.stats import stats_compute_many
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

RANGE = "?start=2025-03-03&end=2025-03-04"


@pytest.fixture
def chats(players):
    """Two chats about account security, one about a retired intent, one nobody could classify."""
    ids = [
        Chat(players[0], T0, intent="account_security").player(0, "账号被盗了").bot(3, ttft_ms=500).close(60).pk,
        Chat(players[1], T0, intent="account_security").player(0, "怎么改密码").bot(3, ttft_ms=500).close(60).pk,
        Chat(players[2], T0, intent="old_promo").player(0, "promo code?").bot(3, ttft_ms=500).close(60).pk,
        Chat(players[3], T0, intent="").player(0, "hmm").bot(3, ttft_ms=500).close(60).pk,
    ]
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()


def table(page) -> list[str]:
    return [label for _key, label, _k, _share in page.context["rows"]]


def chart_labels(page) -> list[str]:
    return page.context["charts"]["volume"]["labels"]


def test_the_intents_page_names_intents_in_english(chats, client, mia):
    client.force_login(mia)
    page = client.get("/analytics/intents/" + RANGE, HTTP_ACCEPT_LANGUAGE="en")

    assert table(page) == ["Account security", "Unknown", "old_promo"]
    assert chart_labels(page) == ["Account security", "Unknown", "old_promo"]
    html = page.content.decode()
    assert ">Account security</a></td>" in html and "account_security</a></td>" not in html


def test_the_intents_page_names_intents_in_chinese(chats, client, mia):
    client.force_login(mia)
    page = client.get("/analytics/intents/" + RANGE, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert table(page) == ["账号安全", "未知", "old_promo"]
    assert chart_labels(page) == ["账号安全", "未知", "old_promo"]
    chart = json.loads(page.content.decode().split('id="chart-volume" type="application/json">')[1].split("<")[0])
    assert chart["labels"][0] == "账号安全"


def test_the_intents_csv_keeps_the_slug_and_adds_the_label(chats, client, mia):
    client.force_login(mia)
    response = client.get("/analytics/intents/" + RANGE + "&format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans")

    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["intent", "label", "conversations"]
    assert [row[:3] for row in rows[1:]] == [
        ["account_security", "账号安全", "2"],
        ["", "未知", "1"],
        ["old_promo", "old_promo", "1"],
    ]


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "The charts show the 15 intents with the most conversations; the table lists all 16."),
        ("zh-hans", "图表只显示对话最多的 15 个意图；表格列出全部 16 个。"),
    ],
)
def test_when_the_charts_leave_intents_out_the_page_says_so(players, client, mia, language, said):
    # Sixteen intents, the demo's catalogue: the charts drew fifteen and never said the last was left out.
    ids = [
        Chat(players[0], T0, intent=f"topic_{n:02}").player(0, "hi").bot(3, ttft_ms=500).close(60).pk for n in range(16)
    ]
    stats_compute_many(conversation_ids=ids)
    aggregation.aggregate_dirty()
    client.force_login(mia)

    page = client.get("/analytics/intents/" + RANGE, HTTP_ACCEPT_LANGUAGE=language)

    assert len(table(page)) == 16 and len(chart_labels(page)) == 15
    assert re.search(r'data-testid="intents-charted">(.*?)</p>', page.content.decode(), re.S).group(1).strip() == said
