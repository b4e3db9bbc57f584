"""The Celery worker and beat, started as README says (no --loglevel), log at LOG_LEVEL
in csbot's format (csbot/celery.py): before, they logged at Celery's own WARNING, so
a worker ran its tasks with nothing in its log and beat never said what it sent."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests import servers
from tests.services import require_redis


def line(logger: str, message: str) -> str:
    """A log line in csbot's format (settings.LOGGING): time, level, logger, message."""
    return r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO " + logger + " " + message


@pytest.fixture
def broker_url():
    url = require_redis().rsplit("/", 1)[0] + "/7"  # this test's own database
    redis.Redis.from_url(url).flushdb()
    yield url
    redis.Redis.from_url(url).flushdb()


def celery(env: dict[str, str], log_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(servers.BIN / "celery"), "-A", "csbot", *args],
        cwd=servers.ROOT,
        env=env,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )


def wait_for(pattern: str, log_path: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = log_path.read_text(errors="replace")
        if re.search(pattern, log, re.MULTILINE):
            return log
        time.sleep(0.3)
    raise AssertionError(f"no line matching {pattern!r} in:\n{log_path.read_text(errors='replace')}")


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_worker_and_beat_log_at_log_level_what_they_run_and_send(broker_url, tmp_path):
    env = servers.product_env(
        SQLITE_PATH=str(tmp_path / "db.sqlite3"), REDIS_URL=broker_url, LOG_LEVEL="INFO", HELD_CHAT_SWEEP_SECONDS="1"
    )
    servers.migrated_database(tmp_path / "db.sqlite3")
    worker = celery(env, tmp_path / "worker.log", "worker", "--pool=solo", "-n", "logging-test@%h")
    # As README starts it, without --schedule: the file goes where the setting says.
    env["CELERY_BEAT_SCHEDULE_FILENAME"] = str(tmp_path / "celerybeat-schedule")
    beat = celery(env, tmp_path / "beat.log", "beat")
    try:
        wait_for(line(r"celery\.apps\.worker", r"logging-test@\S+ ready\."), tmp_path / "worker.log")
        wait_for(
            line(r"celery\.beat", r"Scheduler: Sending due task chat-requeue-abandoned "),
            tmp_path / "beat.log",
        )
        wait_for(
            line(r"celery\.app\.trace", r"Task chat\.tasks\.requeue_abandoned_chats\[.+\] succeeded"),
            tmp_path / "worker.log",
        )
    finally:
        stop(worker, beat)
    assert list(tmp_path.glob("celerybeat-schedule*"))
