"""A generated history with a two-hour LLM outage (analytics/history.py), replayed minute by
minute through anomaly detection as beat runs it: each alert is raised once for the outage and
cleared once after it, and nothing is raised by the failures and escalations of the day before.
Several seeds, since at a threshold one history's chance is another's flapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics.history import HistoryGenerator
from analytics.services import anomalies
from analytics.services.anomalies import Periods, detect_handoff_surge, detect_llm_errors, signal_sync

pytestmark = pytest.mark.django_db

# A Saturday's end: the outage (three hours before the end, a day back) falls on a Friday evening.
END = datetime(2025, 3, 8, 23, 0, tzinfo=UTC)


def replay(detect, since: datetime, until: datetime, every: timedelta = timedelta(minutes=1)) -> list[tuple[str, int]]:
    """What the ops team read, as (event, minute) from `since`."""
    anomalies.usual.forget()
    read, at = [], since
    while at < until:
        for signal in detect(at, Periods.of(at, anomalies.RULES)):
            if event := signal_sync(signal, now=at):
                read.append((event, int((at - since).total_seconds() // 60)))
        at += every
    return read


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_outage_replayed_raises_each_alert_once_and_clears_it_once_after(seed):
    history = HistoryGenerator(conversations=2000, days=2, seed=seed, end=END)
    history.write(log=lambda _line: None)
    outage, over = history.outage, history.outage + timedelta(hours=2)

    # A thousand chats a day, 1.5% of answers failing: chance, read every five minutes for 20 hours.
    before = replay(detect_llm_errors, outage - timedelta(hours=20), outage, timedelta(minutes=5))
    every = timedelta(minutes=2)
    llm = replay(detect_llm_errors, outage, over + timedelta(hours=1), every)
    surge = replay(detect_handoff_surge, outage - timedelta(minutes=30), over + timedelta(hours=3), every)

    assert before == []
    assert [event for event, _ in llm] == ["raised", "cleared"], llm
    assert llm[0][1] <= 15 and llm[1][1] >= 120  # raised within a quarter of an hour, cleared after
    assert [event for event, _ in surge] == ["raised", "cleared"], surge
    assert surge[1][1] >= 150
