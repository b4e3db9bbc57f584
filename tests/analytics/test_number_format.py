"""Large numbers on the analytics pages read with thousands separators in English and Chinese
alike, as the charts' ticks do; the CSV keeps the raw number for spreadsheets."""

from __future__ import annotations

import re

import pytest

from analytics.models import Aggregate
from analytics.services import aggregation, resolution
from analytics.tasks import on_conversation_closed
from tests.analytics.cards import card
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

RANGE = "?start=2025-03-03&end=2025-03-03"


@pytest.fixture
def a_long_chat(players, django_capture_on_commit_callbacks):
    chat = Chat(players[0], T0).player(0, "充值没到账").bot(2, prompt_tokens=12000, completion_tokens=345).close(60)
    with django_capture_on_commit_callbacks(execute=True):
        on_conversation_closed(chat.pk)
    resolution.resolution_update(now=T0)
    aggregation.aggregate_dirty()
    return chat


def tokens_shown(html: str) -> str:
    return re.search(r"Token[^<]*</span><strong>([^<]*)</strong>", html).group(1)


def busy_day() -> None:
    """The day's figures as if 12,345 chats like that one had closed, 1,234 of them rated 5."""
    Aggregate.objects.filter(dimension=Aggregate.Dimension.ALL).update(  # its hour and its day
        conversations=12345, bot_resolved=12345, csat_count=1234, csat_sum=1234 * 5, csat_hist=[0, 0, 0, 0, 1234]
    )


def shown(html: str, testid: str) -> str:
    return card(html, testid)


@pytest.mark.parametrize(
    "language, conversations, resolved, csat",
    [
        ("en", "Conversations 12,345", "of 12,345 chats closed over 24 h ago", "100.0% satisfied, 1,234 ratings"),
        ("zh-hans", "会话数 12,345", "基于 12,345 个关闭超过 24 小时的会话", "满意 100.0%，共 1,234 个评分"),
    ],
)
def test_a_manager_reads_twelve_thousand_chats_as_12_345_in_either_language(
    client, mia, a_long_chat, language, conversations, resolved, csat
):
    busy_day()
    client.force_login(mia)

    page = client.get("/analytics/" + RANGE, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert shown(page, "kpi-conversations") == conversations
    assert shown(page, "kpi-bot-resolution").endswith(resolved)
    assert shown(page, "kpi-csat").endswith(csat)
    assert tokens_shown(page) == "12,345"


def test_the_csv_keeps_raw_numbers(client, mia, a_long_chat):
    busy_day()
    client.force_login(mia)

    csv = client.get("/analytics/" + RANGE + "&format=csv", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert ",12345," in csv and "12,345" not in csv
