"""How this week compares with the last: the overview sets each key figure, and each handoff
reason, beside the same figure for as many days just before its range."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from django.utils import timezone

from analytics.services import aggregation
from analytics.tasks import conversation_closed
from tests.analytics.cards import card
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

THIS_WEEK = "?start=2025-03-10&end=2025-03-16"


def chats(players, monday, *, bot: int, handed_off: dict[str, int], intent: str = "recharge") -> None:
    """A week's closed chats from Monday on: `bot` the bot answered, and per reason the handed-off ones."""
    n = 0
    for reason, count in {"": bot, **handed_off}.items():
        for _ in range(count):
            chat = Chat(players[n % 5], monday + timedelta(hours=n), intent=intent).player(0, "充值没到账")
            chat.bot(2, ttft_ms=800)
            if reason:
                chat.escalate(10, reason)
            conversation_closed(chat.close(60).pk)
            n += 1


@pytest.fixture
def two_weeks(players):
    # The week before: 8 chats, 2 handed off because the player asked.
    chats(players, T0, bot=6, handed_off={"player_request": 2})
    # This week: 10 chats, 5 handed off, 3 of them because the LLM failed.
    chats(players, T0 + timedelta(days=7), bot=5, handed_off={"player_request": 2, "upstream_error": 3})
    aggregation.aggregate_dirty()


@pytest.mark.parametrize(
    ("language", "volume", "handoff", "reasons"),
    [
        (
            "en",
            "Conversations 10 Previous 7 days: 8",
            "Handed to a human 50.0% Previous 7 days: 25.0%",
            ["Reason Conversations Previous 7 days", "The LLM failed 3 0", "The player asked for a person 2 2"],
        ),
        (
            "zh-hans",
            "会话数 10 前 7 天：8",
            "转人工 50.0% 前 7 天：25.0%",
            ["原因 会话数 前 7 天", "大模型出错 3 0", "玩家要求人工 2 2"],
        ),
    ],
)
def test_this_week_reads_beside_the_week_before_and_the_reason_that_grew_shows(
    two_weeks, client, mia, language, volume, handoff, reasons
):
    client.force_login(mia)

    html = client.get("/analytics/" + THIS_WEEK, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert card(html, "kpi-conversations", before=True) == volume
    assert card(html, "kpi-handoff", before=True) == handoff
    table = re.search(r"<table class=\"an-table\">(.*?)</table>", html, re.S).group(1)
    rows = [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    assert rows == reasons


def test_a_reason_gone_this_week_still_shows_what_it_was(players, client, mia):
    chats(players, T0, bot=1, handed_off={"sentiment": 4})
    chats(players, T0 + timedelta(days=7), bot=3, handed_off={})
    aggregation.aggregate_dirty()
    client.force_login(mia)

    html = client.get("/analytics/" + THIS_WEEK).content.decode()

    assert re.search(r"<td>The player is upset</td><td>0</td><td>4</td>", html)


@pytest.mark.parametrize(
    ("language", "header", "recharge"),
    [
        ("en", "Handed off, previous 7 days", ["50.0%", "25.0%"]),
        ("zh-hans", "前 7 天转人工", ["50.0%", "25.0%"]),
    ],
)
def test_the_intent_whose_handoffs_rose_shows_its_rate_of_the_week_before(
    two_weeks, players, client, mia, language, header, recharge
):
    # Refunds handed off as often as the week before: not where the rise came from.
    chats(players, T0 + timedelta(days=1), bot=1, handed_off={"player_request": 1}, intent="refund")
    chats(players, T0 + timedelta(days=8), bot=1, handed_off={"player_request": 1}, intent="refund")
    # Asked about for the first time this week: nothing to set beside it.
    chats(players, T0 + timedelta(days=9), bot=1, handed_off={}, intent="events")
    aggregation.aggregate_dirty()
    client.force_login(mia)

    html = client.get("/analytics/intents/" + THIS_WEEK, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    table = re.search(r'data-testid="intents-table">(.*?)</table>', html, re.S).group(1)
    headers = [" ".join(h.split()) for h in re.findall(r"<th>(.*?)</th>", table, re.S)]
    assert headers[5] == header
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert [row[4:6] for row in rows] == [recharge, ["50.0%", "50.0%"], ["0.0%", "–"]]


@pytest.fixture
def noon(settings):
    """Now, in a time zone where it is about noon: today is half over, whatever the hour in UTC."""
    offset = 12 - timezone.now().astimezone(UTC).hour  # -11..12 hours ahead of UTC
    settings.TIME_ZONE = f"Etc/GMT{-offset:+d}"  # the sign is POSIX's: Etc/GMT-8 is UTC+8
    return timezone.now()


def closed(players, start, *, reason: str = "") -> None:
    chat = Chat(players[0], start).player(0, "充值没到账").bot(2)
    if reason:
        chat.escalate(10, reason)
    conversation_closed(chat.close(60).pk)


@pytest.mark.parametrize(
    ("language", "volume", "handoff", "note"),
    [
        (
            "en",
            "Conversations 6 Previous 7 days: 6",
            "Handed to a human 0.0% Previous 7 days: 0.0%",
            "Today is not over, so the previous 7 days are counted up to {time}, the same time of day: "
            "both periods are as long.",
        ),
        (
            "zh-hans",
            "会话数 6 前 7 天：6",
            "转人工 0.0% 前 7 天：0.0%",
            "今天还没过完，前 7 天也只统计到同一时刻 {time}，两段时间一样长。",
        ),
    ],
)
def test_a_week_ending_today_is_set_beside_the_week_before_up_to_the_same_time_of_day(
    noon, players, client, mia, language, volume, handoff, note
):
    week_ago = noon - timedelta(days=7)
    for days_back in (1, 2, 3):  # this week, three chats on earlier days and three this morning
        closed(players, noon - timedelta(days=days_back, hours=1))
        closed(players, noon - timedelta(hours=days_back))
    for hours_back in range(1, 7):  # the week before, six chats by the same time of day...
        closed(players, week_ago - timedelta(hours=hours_back))
    for hours_on in (1, 2, 3):  # ...and three more that afternoon, which this week has not had yet
        closed(players, week_ago + timedelta(hours=hours_on), reason="sentiment")
    aggregation.aggregate_dirty()
    client.force_login(mia)

    today = timezone.localdate()
    seven_days = f"?start={today - timedelta(days=6)}&end={today}"  # the "7 days" button

    html = client.get("/analytics/" + seven_days, HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert card(html, "kpi-conversations", before=True) == volume
    assert card(html, "kpi-handoff", before=True) == handoff
    cut = timezone.localtime(week_ago + timedelta(minutes=30)).strftime("%Y-%m-%d %H:00")
    shown = re.search(r'data-testid="previous-cut">(.*?)</p>', html, re.S).group(1)
    assert " ".join(shown.split()) == note.format(time=cut)
    assert "The player is upset" not in html and "玩家情绪激动" not in html
    # The intents page too: the afternoon's handoffs are not this week's intents' "before".
    intents = client.get("/analytics/intents/" + seven_days, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert 'data-testid="previous-cut"' in intents
    row = re.search(r'data-testid="intents-table">.*?<tbody><tr>(.*?)</tr>', intents, re.S).group(1)
    assert re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[4:6] == ["0.0%", "0.0%"]


def test_a_week_that_ended_is_set_beside_whole_days(two_weeks, client, mia):
    client.force_login(mia)

    html = client.get("/analytics/" + THIS_WEEK).content.decode()

    assert 'data-testid="previous-cut"' not in html


@pytest.mark.parametrize(("language", "today"), [("en", "{} (so far)"), ("zh-hans", "{}（截至目前）")])
def test_today_is_labelled_as_counted_so_far_in_the_table_and_the_charts(noon, players, client, mia, language, today):
    closed(players, noon - timedelta(days=1))
    closed(players, noon - timedelta(hours=1))
    aggregation.aggregate_dirty()
    client.force_login(mia)
    day = timezone.localdate()

    page = client.get(f"/analytics/?start={day - timedelta(days=6)}&end={day}", HTTP_ACCEPT_LANGUAGE=language)

    assert [label for label, _k in page.context["points"]] == [str(day - timedelta(days=1)), today.format(day)]
    assert page.context["charts"]["volume"]["labels"][-2:] == [str(day - timedelta(days=1)), today.format(day)]
