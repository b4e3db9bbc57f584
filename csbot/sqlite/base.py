"""Django's SQLite backend, with writers taking turns on a file lock rather than SQLite's busy handler.

SQLite lets one writer at a time into a database. A writer that finds it taken
waits in SQLite's busy handler, which sleeps 1, 2, 5, 10, 15, 20, 25, 25, 25,
50, 50, 100 ms between tries and never queues: under a steady stream of short
writes from several threads and processes (the embedded default's web process
and its helpers), an unlucky writer keeps waking to a taken lock and sleeping
longer. At ERNIE pace, 1,000 chats over 10 s, that was one first token in
twenty waiting 130-180 ms, with a median of 4 ms (docs/benchmarks-history.md, "The
eighth round").

Here every write (a transaction, which the settings begin IMMEDIATE, or a
lone INSERT/UPDATE/DELETE in autocommit) first takes the writers' turn: a
lock among the process's threads, then an exclusive `flock` on
`<database>.writers` among processes. Both wake the next waiter the moment
they are released, so writers queue instead of polling. The threads' lock
gives up after the database's `timeout` (an OperationalError, as SQLite's
"database is locked"), so a thread that waits, inside a transaction, for
another thread's write fails as it did rather than hanging. Readers never
take it (WAL: they don't block writers, nor writers them), and SQLite's own
lock and busy timeout stay underneath for anyone who writes without this
backend (the sqlite3 shell, another program).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import weakref

from django.db.backends.sqlite3 import base, creation

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


_threads: dict[str, threading.Lock] = {}  # per database file, in this process


class WriterLock:
    """One connection's turn to write: this process's lock for the file, then the file's flock."""

    def __init__(self, path: str, timeout: float) -> None:
        self.timeout = timeout
        self.threads = _threads.setdefault(path, threading.Lock())
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # A thread that ends with its connection open (CONN_MAX_AGE=None) never closes it:
        # sqlite3 closes the database when the connection is collected, and this closes the
        # lock's file then too. Without it every such thread left a descriptor open.
        self._close_fd = weakref.finalize(self, os.close, self.fd)
        self.held = False

    def acquire(self) -> None:
        if self.held:
            return
        if not self.threads.acquire(timeout=self.timeout):
            raise sqlite3.OperationalError("database is locked (no turn to write within the timeout)")
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            self.threads.release()
            raise
        self.held = True

    def release(self) -> None:
        if self.held:
            self.held = False
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.threads.release()

    def close(self) -> None:
        self.release()
        self._close_fd()

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


_NO_TURN = contextlib.nullcontext()  # reads, and writes inside a transaction that has its turn


class Connection(sqlite3.Connection):
    writers: WriterLock | None = None


def _is_write(query: str) -> bool:
    return query.lstrip()[:7].upper().startswith(_WRITES)


class CursorWrapper(base.SQLiteCursorWrapper):
    def execute(self, query, params=None):
        with self._turn(query):
            return super().execute(query, params)

    def executemany(self, query, param_list):
        with self._turn(query):
            return super().executemany(query, param_list)

    def _turn(self, query: str) -> WriterLock | contextlib.nullcontext:
        """A lone write in autocommit takes the writers' turn; in a transaction it has it already."""
        writers = self.connection.writers
        if writers is None or self.connection.in_transaction or not _is_write(query):
            return _NO_TURN
        return writers


class DatabaseCreation(creation.DatabaseCreation):
    def _destroy_test_db(self, test_database_name, verbosity):
        super()._destroy_test_db(test_database_name, verbosity)
        if test_database_name and not self.is_in_memory_db(test_database_name):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{test_database_name}.writers")  # the writers' lock goes with its database


class DatabaseWrapper(base.DatabaseWrapper):
    creation_class = DatabaseCreation

    def get_connection_params(self):
        return {**super().get_connection_params(), "factory": Connection}

    def get_new_connection(self, conn_params):
        conn = super().get_new_connection(conn_params)
        if not self.is_in_memory_db():
            timeout = float(self.settings_dict["OPTIONS"].get("timeout", 5))
            conn.writers = WriterLock(f"{self.settings_dict['NAME']}.writers", timeout)
        return conn

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=CursorWrapper)

    def _start_transaction_under_autocommit(self):
        writers = self.connection.writers
        if writers is not None:
            writers.acquire()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            if writers is not None:
                writers.release()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._release_writers()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._release_writers()

    def _close(self):
        writers = self.connection.writers if self.connection is not None else None
        try:
            super()._close()
        finally:
            if writers is not None:
                writers.close()

    def _release_writers(self):
        if self.connection is not None and self.connection.writers is not None:
            self.connection.writers.release()
