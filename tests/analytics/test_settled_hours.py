"""On a Monday morning the week's bot resolution counts Sunday's chats that closed over 24 h
ago: Sunday's row read "Not known yet" and the week's rate left out all of Sunday, while its
note said it counted every chat closed over 24 h ago."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from analytics import selectors
from analytics.services import aggregation, resolution
from analytics.tasks import on_conversation_closed
from tests.analytics.conftest import T0
from tests.analytics.factories import Chat

pytestmark = pytest.mark.django_db

# T0 is Monday 2025-03-03 10:00: the week is Monday 24 February to Sunday 2 March.
WEEK = "?start=2025-02-24&end=2025-03-02"


@pytest.fixture
def monday_morning(players, monkeypatch, django_capture_on_commit_callbacks):
    """A chat the bot answered on Saturday, one early on Sunday (over 24 h ago) and one on
    Sunday evening (not yet 24 h ago), read at 10:00 on Monday."""
    closes = [T0 - timedelta(days=2), T0 - timedelta(hours=32), T0 - timedelta(hours=14)]
    for player, closed in zip(players, closes, strict=False):
        chat = Chat(player, closed - timedelta(minutes=5), intent="events").player(0, "活动什么时候开始").bot(2)
        with django_capture_on_commit_callbacks(execute=True):
            on_conversation_closed(chat.close(300).pk)
    resolution.resolution_update(now=T0)
    aggregation.aggregate_dirty()
    monkeypatch.setattr(selectors, "_cutoff", lambda: T0 - resolution.RETURN_WINDOW)


def test_sundays_chats_closed_over_a_day_ago_count_in_the_weeks_bot_resolution(monday_morning, client, mia):
    client.force_login(mia)

    html = client.get("/analytics/" + WEEK).content.decode()

    kpi = re.search(r'data-testid="kpi-bot-resolution">(.*?)</div>', html, re.S).group(1)
    assert "<strong>100.0%</strong>" in kpi and "of 2 chats closed over 24 h ago" in kpi
    table = re.search(r'data-testid="overview-table">(.*?)</table>', html, re.S).group(1)
    sunday = re.search(r"<td>2025-03-02</td><td>2</td><td>(.*?)</td>", table).group(1)
    assert sunday == "100.0%"  # of the early chat; the evening's is pending
    intents = client.get("/analytics/intents/" + WEEK).context["rows"]
    assert [(key, k["resolution_judged"]) for key, _label, k, _share in intents] == [("events", 2)]
