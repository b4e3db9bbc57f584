"""The CSV exports give their moments in TIME_ZONE, as the pages beside them do: a manager in
Shanghai who exports one day must not read times of the day before in the file."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from analytics.hooks import knowledge_gap_record
from analytics.models import Alert

pytestmark = pytest.mark.django_db

# 03:30 on 7 December in Shanghai: still 6 December in UTC.
EARLY_MORNING = datetime(2026, 12, 6, 19, 30, 15, 123456, tzinfo=UTC)
LATER = datetime(2026, 12, 7, 1, 5, tzinfo=UTC)


@pytest.fixture
def shanghai_manager(settings, client, mia):
    settings.TIME_ZONE = "Asia/Shanghai"
    client.force_login(mia)
    return client


def rows(client, path: str) -> list[dict[str, str]]:
    page = client.get(f"/analytics/{path}?format=csv&start=2026-12-07&end=2026-12-07")
    return list(csv.DictReader(io.StringIO(page.content.decode("utf-8-sig"))))


def test_the_alerts_of_a_day_are_raised_and_cleared_on_that_day_in_the_file(shanghai_manager):
    Alert.objects.create(
        kind=Alert.Kind.QUEUE_WAIT, description="Long queue", value=400, threshold=300,
        raised_at=EARLY_MORNING, cleared_at=LATER, state=Alert.State.CLEARED,
    )  # fmt: skip

    (alert,) = rows(shanghai_manager, "anomalies/")
    assert (alert["raised_at"], alert["cleared_at"]) == ("2026-12-07T03:30:15+08:00", "2026-12-07T09:05:00+08:00")


def test_an_unanswered_question_of_the_day_was_asked_that_day_in_the_file(shanghai_manager):
    knowledge_gap_record(question="宠物怎么进化", language="zh-hans", at=EARLY_MORNING)
    knowledge_gap_record(question="宠物怎么进化", language="zh-hans", at=LATER)

    (gap,) = rows(shanghai_manager, "gaps/")
    assert (gap["first_seen"], gap["last_seen"]) == ("2026-12-07T03:30:15+08:00", "2026-12-07T09:05:00+08:00")
