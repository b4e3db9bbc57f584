"""The line a web process logs at its start (csbot/startup_summary.py): its name, as the
sweep's log names a process that died, and what it is pointed at, never a password."""

from __future__ import annotations

from csbot.runner import runner_name
from csbot.startup_summary import startup_summary


def test_a_process_on_postgresql_and_redis_names_their_hosts_and_not_their_passwords(settings):
    settings.DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": "db.internal",
            "PORT": 5432,
            "NAME": "csbot",
            "USER": "csbot",
            "PASSWORD": "pg-s3cret",
        }
    }
    settings.REDIS_URL = "redis://:redis-s3cret@redis.internal:6380/2"
    settings.LLM_PROVIDER = "ernie"

    assert startup_summary() == (
        f"web process {runner_name()} started: database postgresql db.internal:5432/csbot, "
        "Redis redis://redis.internal:6380/2, LLM provider ernie"
    )


def test_the_embedded_default_says_it_has_no_redis(settings, tmp_path):
    settings.DATABASES = {"default": {"ENGINE": "csbot.sqlite", "NAME": str(tmp_path / "db.sqlite3")}}
    settings.REDIS_URL = ""

    assert startup_summary().endswith(
        f"started: database SQLite {tmp_path / 'db.sqlite3'}, Redis none (in-memory channel layer, Celery eager), "
        "LLM provider local"
    )
