"""The analytics pages' headings and labels start with a capital letter in English, like the rest
of the page ("Queue waiting time", not "queue waiting time"); Chinese reads the same as before."""

from __future__ import annotations

import re

import pytest

from analytics.models import Alert
from analytics.services.aggregation import aggregate_dirty
from analytics.tasks import on_conversation_closed
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

RANGE = "?start=2025-03-03&end=2025-03-03"


def cells(html: str, testid: str) -> list[str]:
    table = re.search(rf'data-testid="{testid}">(.*?)</table>', html, re.S).group(1)
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]


def test_the_anomalies_page_names_each_signal_with_a_capital(client, mia):
    Alert.objects.create(kind=Alert.Kind.QUEUE_WAIT, description="Long queue", value=400, threshold=300)
    Alert.objects.create(kind=Alert.Kind.NEGATIVE_SENTIMENT, key="s7", description="Unhappy", value=0.6, threshold=0.3)
    client.force_login(mia)

    english = client.get("/analytics/anomalies/").content.decode()
    chinese = client.get("/analytics/anomalies/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert cells(english, "alerts-table")[0::4] == ["Negative sentiment surge · s7", "Queue waiting time"]
    assert cells(english, "alerts-table")[3::4] == ["Still active", "Still active"]
    assert re.search(r"<small class=\"muted\">Since \d{4}-", english)
    assert cells(chinese, "alerts-table")[0::4] == ["负面情绪激增 · s7", "排队等待时间"]
    assert cells(chinese, "alerts-table")[3::4] == ["仍未解除", "仍未解除"]


def test_handoff_reasons_read_as_labels_in_the_table_and_the_legend(
    client, mia, players, alice, django_capture_on_commit_callbacks
):
    chat = (
        Chat(players[0], T0).player(0, "转人工").escalate(5, "player_request").take_over(30, alice).close(90, by=alice)
    )
    with django_capture_on_commit_callbacks(execute=True):
        on_conversation_closed(chat.pk)
    aggregate_dirty()
    client.force_login(mia)

    page = client.get("/analytics/" + RANGE)

    assert "<td>The player asked for a person</td>" in page.content.decode()
    assert page.context["charts"]["reasons"]["labels"] == ["The player asked for a person"]


def test_a_chat_with_no_server_or_intent_is_listed_as_unknown_with_a_capital(
    client, mia, players, django_capture_on_commit_callbacks
):
    chat = Chat(players[0], T0).player(0, "你好", sentiment=-0.5).bot(2).close(60)
    with django_capture_on_commit_callbacks(execute=True):
        on_conversation_closed(chat.pk)
    aggregate_dirty()
    client.force_login(mia)

    sentiment = client.get("/analytics/sentiment/" + RANGE)

    assert cells(sentiment.content.decode(), "servers-table")[0] == "Unknown"
    assert sentiment.context["charts"]["per_server"]["labels"] == ["Unknown"]


@pytest.mark.parametrize(
    "language, now_words, earlier_words",
    [("en", "just now", "3 minutes ago"), ("zh-hans", "刚刚", "3 分钟前")],
)
def test_a_worker_that_just_beat_reads_just_now_not_0_minutes_ago(
    client, mia, settings, language, now_words, earlier_words
):
    from datetime import timedelta

    from django.utils import timezone

    from analytics.services.anomalies import heartbeat_record

    settings.CELERY_TASK_ALWAYS_EAGER = False  # with a broker: workers beat
    heartbeat_record(hostname="celery@a", now=timezone.now() - timedelta(seconds=5))
    heartbeat_record(hostname="celery@b", now=timezone.now() - timedelta(minutes=3, seconds=5))
    client.force_login(mia)

    html = client.get("/analytics/anomalies/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    workers = html.split("celery@", 1)[1].replace("\xa0", " ")  # timesince keeps "3 minutes" on one line
    assert f"({now_words})" in workers and f"({earlier_words})" in workers, workers[:600]
