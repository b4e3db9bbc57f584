"""csbot's worker threads (csbot/db.py) and their database connections."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.conf import settings
from django.db import connection, connections
from django.db.backends.signals import connection_created

from csbot.db import in_worker
from tests import servers
from tests.services import missing


def _query() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        return cursor.fetchone()[0]


async def _close_in_every_worker_thread() -> None:
    """Each of the pool's threads closes its connection: all of them wait for each other first,
    so that every thread gets one of the calls."""
    everyone = threading.Barrier(settings.DB_THREADS, timeout=10)

    def close() -> None:
        everyone.wait()
        connection.close()

    await asyncio.gather(*(in_worker(close) for _ in range(settings.DB_THREADS)))


@pytest.mark.django_db(transaction=True)
async def test_on_the_embedded_default_a_worker_thread_keeps_its_sqlite_connection_between_calls(monkeypatch):
    """Opening and closing SQLite on every call was a third of the embedded default's CPU under load."""
    if connection.vendor != "sqlite":  # fails under CI=true, where the tests always run on SQLite
        missing("the embedded default's SQLite as the test database")
    # What csbot/settings.py gives the embedded default (tests/conftest.py sets 0 for the others).
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", None)
    await _close_in_every_worker_thread()
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(threading.get_ident())

    connection_created.connect(count)
    try:
        answers = await asyncio.gather(*(in_worker(_query) for _ in range(60)))
        assert answers == [1] * 60
        assert 1 <= len(opened) <= settings.DB_THREADS
    finally:
        connection_created.disconnect(count)
        monkeypatch.undo()
        await _close_in_every_worker_thread()


def test_the_embedded_default_keeps_connections_open_and_postgresql_uses_its_pool():
    conn_max_age, postgres = "DATABASES['default']['CONN_MAX_AGE']", "postgres://postgres@127.0.0.1:5432/postgres"
    assert servers.setting_in_a_fresh_process(conn_max_age) == "None"
    assert servers.setting_in_a_fresh_process(conn_max_age, DATABASE_URL=postgres) == "0"
