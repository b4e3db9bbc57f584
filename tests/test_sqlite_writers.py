"""The embedded default's SQLite writers take turns on a lock that wakes them (csbot/sqlite/base.py),
instead of polling in SQLite's busy handler."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
import threading

import pytest
from django.db import OperationalError

from csbot.sqlite.base import DatabaseWrapper
from tests import servers


@pytest.fixture(autouse=True)
def _own_databases(django_db_blocker):
    """These tests open their own database files, not the test database."""
    with django_db_blocker.unblock():
        yield


def open_db(path, *, timeout: float, alias: str = "writers-test") -> DatabaseWrapper:
    db = DatabaseWrapper(
        {
            "ENGINE": "csbot.sqlite",
            "NAME": str(path),
            "OPTIONS": {"timeout": timeout, "transaction_mode": "IMMEDIATE"},
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "TEST": {},
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
        },
        alias=alias,
    )
    db.inc_thread_sharing()  # the tests hand a connection to a thread of their own
    return db


def begin(db: DatabaseWrapper) -> None:
    """What transaction.atomic() does first on SQLite."""
    db.set_autocommit(False, force_begin_transaction_with_broken_autocommit=True)


def commit(db: DatabaseWrapper) -> None:
    db.commit()
    db.set_autocommit(True)


def rows(db: DatabaseWrapper) -> list[str]:
    with db.cursor() as cursor:
        cursor.execute("SELECT note FROM notes ORDER BY id")
        return [r[0] for r in cursor.fetchall()]


@pytest.fixture
def database(tmp_path):
    db = open_db(tmp_path / "db.sqlite3", timeout=5)
    with db.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")
    db.close()
    return tmp_path / "db.sqlite3"


HOLDER = textwrap.dedent(
    """
    import os, sys, time
    sys.path.insert(0, {root!r})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "csbot.settings")
    import django
    django.setup()
    from tests.test_sqlite_writers import open_db, begin, commit
    db = open_db({path!r}, timeout=5, alias="holder")
    begin(db)
    with db.cursor() as cursor:
        cursor.execute("INSERT INTO notes (note) VALUES ('first')")
    print("HOLDING", flush=True)
    time.sleep(0.5)
    commit(db)
    """
)


def test_a_writer_waits_for_another_processs_transaction_however_short_sqlites_own_timeout(database):
    """SQLite alone would give up after its 10 ms busy timeout: "database is locked"."""
    code = HOLDER.format(root=str(servers.ROOT), path=str(database))
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "HOLDING"
        db = open_db(database, timeout=0.01)
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO notes (note) VALUES ('second')")
        assert rows(db) == ["first", "second"]
        db.close()
    finally:
        assert holder.wait(timeout=10) == 0


def test_a_thread_gives_up_its_wait_for_a_turn_after_the_timeout_rather_than_hanging(database):
    holder, waiter = open_db(database, timeout=5), open_db(database, timeout=0.1)
    begin(holder)
    with holder.cursor() as cursor:
        cursor.execute("INSERT INTO notes (note) VALUES ('first')")
    failed = []

    def write() -> None:
        try:
            with waiter.cursor() as cursor:
                cursor.execute("INSERT INTO notes (note) VALUES ('second')")
        except OperationalError as exc:
            failed.append(str(exc))

    thread = threading.Thread(target=write)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert failed and "locked" in failed[0]
    commit(holder)
    write()  # its turn now
    assert rows(waiter) == ["first", "second"]
    holder.close()
    waiter.close()


def test_readers_do_not_wait_for_a_writer(database):
    writer, reader = open_db(database, timeout=5), open_db(database, timeout=0.01)
    begin(writer)
    with writer.cursor() as cursor:
        cursor.execute("INSERT INTO notes (note) VALUES ('not yet')")
    assert rows(reader) == []  # at once, and without the writer's row
    commit(writer)
    assert rows(reader) == ["not yet"]
    writer.close()
    reader.close()


def test_a_failed_transaction_hands_the_turn_on(database):
    first, second = open_db(database, timeout=5), open_db(database, timeout=0.1)
    begin(first)
    with pytest.raises(OperationalError), first.cursor() as cursor:
        cursor.execute("INSERT INTO no_such_table VALUES (1)")
    first.rollback()
    first.set_autocommit(True)
    with second.cursor() as cursor:
        cursor.execute("INSERT INTO notes (note) VALUES ('after the rollback')")
    assert rows(second) == ["after the rollback"]
    first.close()
    second.close()


def test_a_test_database_is_destroyed_with_its_writers_lock(tmp_path):
    name = tmp_path / "test.sqlite3"
    db = open_db(name, timeout=5)
    with db.cursor() as cursor:
        cursor.execute("CREATE TABLE t (x INTEGER)")
        cursor.execute("INSERT INTO t VALUES (1)")
    db.close()
    assert (tmp_path / "test.sqlite3.writers").exists()
    db.creation._destroy_test_db(str(name), verbosity=0)
    assert list(tmp_path.iterdir()) == []


def test_threads_that_end_with_their_connection_open_leave_no_file_open(database):
    """What a worker's or a request's thread does on the embedded default (CONN_MAX_AGE=None):
    it writes and ends without closing its connection. Each one used to leave the writers'
    lock file open."""

    def write_and_end() -> None:
        db = open_db(database, timeout=5, alias="thread")
        with db.cursor() as cursor:
            cursor.execute("INSERT INTO notes (note) VALUES ('from a thread')")

    def open_files() -> int:
        gc.collect()
        return len(os.listdir("/dev/fd"))

    before = open_files()
    for _ in range(20):
        thread = threading.Thread(target=write_and_end)
        thread.start()
        thread.join()
    assert open_files() == before
    db = open_db(database, timeout=5)
    assert rows(db) == ["from a thread"] * 20
    db.close()
