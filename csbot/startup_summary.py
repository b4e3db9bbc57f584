"""The line a web process logs when it starts: its name and what it is pointed at.

The name is the one its answers record (csbot/runner.py) and the sweep's log names when
it fails the answers of a process that died (chat/streaming/lifecycle.py); what it is
pointed at is what an operator checks first when one process behaves unlike the
others. Never a password: hosts, ports and names only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from csbot.runner import runner_name


def startup_summary() -> str:
    return (
        f"web process {runner_name()} started: database {_database()}, Redis {_redis()}, "
        f"LLM provider {settings.LLM_PROVIDER}"
    )


def _database() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "csbot.sqlite":
        return f"SQLite {db['NAME']}"
    return (
        f"{db['ENGINE'].rsplit('.', 1)[-1]} {db.get('HOST') or 'localhost'}:{db.get('PORT') or 'default'}/{db['NAME']}"
    )


def _redis() -> str:
    if not settings.REDIS_URL:
        return "none (in-memory channel layer, Celery eager)"
    url = urlsplit(settings.REDIS_URL)
    where = url.path if url.scheme == "unix" else f"{url.hostname}:{url.port or 6379}{url.path or '/0'}"
    return f"{url.scheme}://{where}"
