"""However many Celery beats run, one sends the schedule (csbot/beat.py): a second beat
waits, sending nothing, and takes over when the first dies. Real beat processes, real Redis."""

from __future__ import annotations

import logging
import re
import signal
import time
import uuid
from contextlib import contextmanager
from datetime import datetime

import pytest
from redis import Redis

from csbot.beat import BeatLock
from tests import servers
from tests.services import require_redis
from tests.test_celery_logging import celery, line, stop, wait_for

STARTS_WITHIN = 180  # seconds
# Two beats' starts, each given its deadline, not cut short by the suite's 120 s (pytest.ini).
pytestmark = pytest.mark.timeout(2 * STARTS_WITHIN + 60)
SENDS = line(r"celery\.beat", r"Scheduler: Sending due task chat-requeue-abandoned ")


def beat_env(tmp_path, name: str, prefix: str, lease: str = "3") -> dict[str, str]:
    return servers.product_env(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"),
        REDIS_URL=require_redis(),  # the lock's, under this test's own prefix
        CHANNEL_PREFIX=prefix,
        # Each beat's tasks go nowhere: only who sends them matters here.
        CELERY_BROKER_URL="memory://localhost/",
        CELERY_RESULT_BACKEND="cache+memory://",
        LOG_LEVEL="INFO",
        HELD_CHAT_SWEEP_SECONDS="1",
        ANALYTICS_REFRESH_SECONDS="8",
        BEAT_LOCK_SECONDS=lease,
        CELERY_BEAT_SCHEDULE_FILENAME=str(tmp_path / f"{name}-schedule"),
    )


@contextmanager
def beats(tmp_path, first_lease: str = "3"):
    """The first beat sending, then a second one started beside it, which has seen the first.
    The first, its process; the second's log; the lock's key."""
    prefix = f"csbot-test-{uuid.uuid4().hex[:8]}"
    first = celery(beat_env(tmp_path, "first", prefix, first_lease), tmp_path / "first.log", "beat")
    second = None
    try:
        # A beat's start imports Django and csbot: seconds of CPU, over a minute at load 30 on 2 cores.
        wait_for(SENDS, tmp_path / "first.log", timeout=STARTS_WITHIN)
        second = celery(beat_env(tmp_path, "second", prefix), tmp_path / "second.log", "beat")
        saw_first = line(r"csbot\.beat", r"beat: another beat \(.+\) sends the schedule")
        wait_for(saw_first, tmp_path / "second.log", timeout=STARTS_WITHIN)
        yield first, tmp_path / "second.log", f"{prefix}:beat"
    finally:
        stop(*(p for p in (first, second) if p is not None))


@pytest.fixture
def two_beats(tmp_path):
    with beats(tmp_path) as (first, second_log, _):
        yield first, second_log


def test_a_second_beat_sends_nothing_while_the_first_runs_and_takes_over_when_it_dies(two_beats):
    first, second_log = two_beats
    time.sleep(3)  # three of the entry's intervals
    assert "Sending due task" not in second_log.read_text()

    first.send_signal(signal.SIGKILL)  # no goodbye: its lock expires
    first.wait(10)
    killed_at = time.monotonic()
    wait_for(SENDS, second_log, timeout=15)

    assert time.monotonic() - killed_at < 3 + 1 + 1.5  # the lock's lease, the second's look, a tick
    assert "beat: this beat" in second_log.read_text()


def test_a_beat_that_stops_hands_over_at_once(tmp_path):
    """A stopping beat gives its lock back: the second takes over at its next look, not once
    the first's lease has run out. Settled in Redis, not by the clock: a beat's stop takes
    seconds, more on a busy machine, so the first's lease here is a minute, which a lock
    not given back would outlast the test by."""
    with beats(tmp_path, first_lease="60") as (first, second_log, key):
        redis = Redis.from_url(require_redis())
        holder = redis.get(key)
        assert holder is not None and f"another beat ({holder.decode()})" in second_log.read_text()
        stop(first)  # SIGTERM, as compose and systemd stop it; returns once it has exited

        assert redis.get(key) != holder  # given back, with most of its minute to run
        wait_for(SENDS, second_log, timeout=30)


def sent_at(pattern: str, log: str) -> datetime:
    """When the first line matching `pattern` was logged."""
    stamp = re.search(r"^(\S+ \S+) INFO celery\.beat .*" + pattern, log, re.MULTILINE).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")


def test_a_beat_taking_over_sends_nothing_within_its_period_of_the_first_beats_send(two_beats):
    """The second beat's own schedule had never sent anything, so an entry was due by its own start:
    at the takeover it went out again a second or two after the first beat had sent it."""
    first, second_log = two_beats
    first_log = second_log.with_name("first.log")
    refresh = "Sending due task analytics-aggregate-recent "  # every ANALYTICS_REFRESH_SECONDS (8)
    wait_for(refresh, first_log, timeout=30)
    stop(first)
    wait_for(refresh, second_log, timeout=30)

    gap = sent_at(refresh, second_log.read_text()) - sent_at(refresh, first_log.read_text())
    assert gap.total_seconds() >= 8 - 0.5


def test_a_beat_that_cannot_reach_redis_sends_nothing_and_says_so_once(caplog):
    unreachable = BeatLock(Redis(port=servers.free_port(), socket_connect_timeout=1), "csbot-test:beat", 3)

    with caplog.at_level(logging.WARNING, logger="csbot.beat"):
        assert [unreachable.hold(), unreachable.hold()] == [False, False]

    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["beat: Redis can't be reached"]


def test_a_beat_whose_lease_another_took_stops_sending_at_its_next_look():
    client = Redis.from_url(require_redis())
    key = f"csbot-test-{uuid.uuid4().hex[:8]}:beat"
    mine = BeatLock(client, key, 3)
    assert mine.hold()
    client.set(key, "another-beat", px=3000)  # its lease ran out while it was stalled, and another took it

    try:
        assert mine.hold() is False
    finally:
        client.delete(key)
