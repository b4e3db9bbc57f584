"""What a manager is told about the figures themselves: when they were computed, and that a
range longer than the pages cover was shortened."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from analytics.models import DirtyHour
from analytics.services import aggregation
from analytics.services.anomalies import heartbeat_record
from analytics.services.stats import stats_compute_many
from analytics.tasks import on_conversation_closed
from tests.analytics.cards import card
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db


def test_a_range_longer_than_400_days_is_shortened_and_the_page_says_so(client, mia):
    client.force_login(mia)
    page = client.get("/analytics/?start=2020-01-01&end=2025-03-03")
    html = page.content.decode()

    assert (page.context["range"].start.isoformat(), page.context["range"].end.isoformat()) == (
        "2024-01-29", "2025-03-03",
    )  # fmt: skip
    assert "A page covers at most 400 days, so this one starts on 2024-01-29 instead of 2020-01-01." in html
    chinese = client.get("/analytics/?start=2020-01-01&end=2025-03-03", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "每页最多显示 400 天，因此本页从 2024-01-29 开始，而不是 2020-01-01。" in chinese.content.decode()


def test_a_range_within_400_days_says_nothing_about_it(client, mia):
    client.force_login(mia)
    html = client.get("/analytics/?start=2025-01-01&end=2025-03-03").content.decode()

    assert 'data-testid="range-clamped"' not in html


def test_the_page_says_its_figures_are_as_old_as_the_oldest_close_not_yet_counted(client, mia, players, settings):
    settings.ANALYTICS_REFRESH_SECONDS = 60
    settings.TIME_ZONE = "Asia/Shanghai"  # the time says which zone it is in: managers may sit elsewhere
    client.force_login(mia)
    start = timezone.now() - timedelta(minutes=5)
    chat = Chat(players[0], start).player(0, "充值没到账").bot(3, ttft_ms=500).close(120)
    stats_compute_many(conversation_ids=[chat.pk])  # its stats are written; the pages' aggregates wait
    written = timezone.now().replace(microsecond=0) - timedelta(seconds=50)
    DirtyHour.objects.update(marked_at=written)

    page = client.get("/analytics/")
    as_of = timezone.localtime(written).strftime("%Y-%m-%d %H:%M")
    assert page.context["as_of"] == written
    shown = page.content.decode()
    assert f"Figures as of {as_of} Asia/Shanghai; they are brought up to date every 60 seconds." in shown

    aggregation.aggregate_dirty()  # aggregate_recent ran: everything written is counted
    assert client.get("/analytics/").context["as_of"] > written + timedelta(seconds=49)


@pytest.mark.parametrize(
    "language, said",
    [
        ("en", "Resolved by the bot – Known 24 h after a chat closes"),
        ("zh-hans", "机器人解决 – 会话关闭满 24 小时后才能判定"),
    ],
)
def test_a_day_too_recent_to_judge_says_when_the_bot_resolution_will_be_known(
    client, mia, players, language, said, django_capture_on_commit_callbacks
):
    # Today's chats: the dash stood over "of 0 chats closed over 24 h ago". An hour ago, or
    # since midnight when today is younger than that: an hour ago was yesterday then.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    start = max(timezone.now() - timedelta(hours=1), midnight)
    chat = Chat(players[0], start).player(0, "充值没到账").bot(2).close(60)
    with django_capture_on_commit_callbacks(execute=True):
        on_conversation_closed(chat.pk)
    aggregation.aggregate_dirty()
    client.force_login(mia)

    page = client.get("/analytics/?start={0}&end={0}".format(timezone.localdate()), HTTP_ACCEPT_LANGUAGE=language)

    assert card(page.content.decode(), "kpi-bot-resolution") == said


@pytest.mark.parametrize(
    "language, csat, ttft",
    [
        ("en", "CSAT – No ratings in this period", "Time to first token –"),
        ("zh-hans", "满意度 – 此期间没有评分", "首字响应时间 –"),
    ],
)
def test_a_period_without_chats_says_there_were_no_ratings_rather_than_dashes_and_zeros(
    client, mia, language, csat, ttft
):
    # It read "– satisfied, 0 ratings" and "p95 –" under the dashes.
    client.force_login(mia)

    html = client.get("/analytics/?start=2025-03-03&end=2025-03-09", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert (card(html, "kpi-csat"), card(html, "kpi-ttft")) == (csat, ttft)


@pytest.mark.parametrize(("language", "hint"), [("en", "YYYY-MM-DD"), ("zh-hans", "年-月-日")])
def test_the_range_boxes_write_dates_as_the_page_does_whatever_the_browser(client, mia, language, hint):
    # A date box showed the browser's own format: 03/03/2025 on an American browser over the Chinese page.
    client.force_login(mia)

    html = client.get("/analytics/?start=2025-03-03&end=2025-03-09", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    boxes = re.findall(r"<input [^>]*name=\"(?:start|end)\"[^>]*>", html)
    assert len(boxes) == 2
    for box, shown in zip(boxes, ["2025-03-03", "2025-03-09"], strict=True):
        assert 'type="text"' in box and f'value="{shown}"' in box and f'placeholder="{hint}"' in box


@pytest.mark.parametrize(
    "typed", ["2025-03-04", "2025/3/4", "2025.03.04", "2025年3月4日", " 2025-3-4 ", "２０２５-０３-０４"]
)
def test_a_date_typed_the_usual_ways_is_read(client, mia, typed):
    client.force_login(mia)

    page = client.get("/analytics/", {"start": typed, "end": "2025-03-09"})

    assert page.context["range"].start.isoformat() == "2025-03-04"
    assert 'data-testid="range-unreadable"' not in page.content.decode()


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "“2025-02-30” is not a date (write it as YYYY-MM-DD), so this page shows 2025-02-08 to 2025-03-09."),
        ("zh-hans", "“2025-02-30”不是日期（请写成 年-月-日），因此本页显示 2025-02-08 至 2025-03-09。"),
    ],
)
def test_a_date_that_is_none_is_said_rather_than_silently_replaced(client, mia, language, said):
    client.force_login(mia)

    page = client.get("/analytics/", {"start": "2025-02-30", "end": "2025-03-09"}, HTTP_ACCEPT_LANGUAGE=language)

    assert said in page.content.decode()


@pytest.mark.parametrize(
    ("eager", "language", "said"),
    [
        (True, "en", "This installation has no Celery worker to watch: the web process computes the figures itself."),
        (True, "zh-hans", "此部署没有需要关注的 Celery 工作进程：数据由 Web 进程自行计算。"),
        (False, "en", "No worker has reported yet."),
    ],
)
def test_the_workers_table_says_why_it_is_empty(client, mia, settings, eager, language, said):
    settings.CELERY_TASK_ALWAYS_EAGER = eager
    client.force_login(mia)

    html = client.get("/analytics/anomalies/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert re.search(r'data-testid="no-worker">(.*?)</td>', html).group(1) == said


def test_on_the_embedded_default_the_web_process_running_the_schedule_is_not_listed_as_a_worker(client, mia, settings):
    """The web process runs the beat schedule itself there (csbot/embedded_beat.py), the
    heartbeat entry with it: the page listed it ("vm … just now") as a Celery worker, and a
    manager read that a worker ran when none did. A row such a process left is not listed either."""
    from csbot import embedded_beat

    settings.CELERY_TASK_ALWAYS_EAGER = True
    heartbeat_record(hostname="vm", now=timezone.now() - timedelta(days=2))  # left by an older version
    embedded_beat._run("analytics.tasks.worker_heartbeat")
    client.force_login(mia)

    html = client.get("/analytics/anomalies/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    table = re.search(r"<caption>Celery workers</caption>.*?</table>", html, re.S).group(0)
    assert re.search(r'data-testid="no-worker">(.*?)</td>', table).group(1) == (
        "This installation has no Celery worker to watch: the web process computes the figures itself."
    )
    assert "vm" not in table and "ago" not in table and "just now" not in table


@pytest.mark.parametrize(
    ("language", "today", "earlier"),
    [("en", "Not known yet", "100.0%"), ("zh-hans", "尚未可知", "100.0%")],
)
def test_a_period_too_recent_to_judge_reads_not_known_yet_in_the_tables_rather_than_a_dash(
    client, mia, players, language, today, earlier, django_capture_on_commit_callbacks
):
    for start in (timezone.now() - timedelta(days=3), timezone.now() - timedelta(hours=1)):
        chat = Chat(players[0], start, intent="recharge").player(0, "充值没到账").bot(2).close(60)
        with django_capture_on_commit_callbacks(execute=True):
            on_conversation_closed(chat.pk)
    aggregation.aggregate_dirty()
    client.force_login(mia)
    week = f"?start={timezone.localdate() - timedelta(days=6)}&end={timezone.localdate()}"

    def resolved(page: str, table: str) -> list[str]:
        html = client.get(page + week, HTTP_ACCEPT_LANGUAGE=language).content.decode()
        rows = re.search(rf'data-testid="{table}">(.*?)</table>', html, re.S).group(1).split("</tr>")[1:-1]
        cells = [row.split("<td>")[3].split("</td>")[0] for row in rows]
        return [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]

    assert resolved("/analytics/", "overview-table") == [earlier, today]
    assert resolved("/analytics/intents/", "intents-table") == [earlier]  # some of its chats are known
