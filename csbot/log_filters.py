"""Logging filters (csbot/settings.py, LOGGING)."""

from __future__ import annotations

import logging
import threading
import time

from django.core.exceptions import PermissionDenied, RequestAborted


class NoPermissionDeniedTraceback(logging.Filter):
    """django.request's "Forbidden (Permission denied): /path" line, without the traceback.

    Django logs every PermissionDenied with its exception, as it would a crash; here it
    is a decision (csbot's role checks, the admin's permissions), and thirty lines of
    frames a time buried the lines that matter.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True


class ClientGone(logging.Filter):
    """A request whose client went away before its answer (Django's RequestAborted): one INFO
    line, not an ERROR with its traceback.

    A probe that gives up (a balancer's or compose's timeout), a player who closes the tab:
    nothing is wrong with the process, but daphne ("Exception inside application") and
    django.request log it as a crash, which pages whoever watches for ERROR. Every other
    exception keeps its level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.exc_info and isinstance(record.exc_info[1], RequestAborted)):
            return True
        path = getattr(getattr(record, "request", None), "path", None)  # django.request's records name it
        record.msg, record.args = "a client went away before its answer: %s", (path or "a request",)
        record.levelno, record.levelname = logging.INFO, "INFO"
        record.exc_info = record.exc_text = None
        # The level was checked before this filter: LOG_LEVEL above INFO keeps the line out.
        return logging.getLogger().isEnabledFor(logging.INFO)


class DatabaseOutage(logging.Filter):
    """psycopg's pool, while PostgreSQL can't be reached: one line when it goes, a reminder
    every DB_UNREACHABLE_LOG_SECONDS, and one when it is back.

    The pool logs each failed attempt of each of its connections ("error connecting in
    'pool-1': …", two lines with the driver's hint), its own and that of each helper process
    (csbot/helper_pool.py): with PostgreSQL down that was several warnings a second per web
    process, which buried what else the log said and never said when it was over. Its
    "adding new connection to the pool" (INFO) is how the filter hears that it is; the
    logger is set to INFO for that, and its other lines are dropped as before under WARNING
    (psycopg's own level for its loggers: its INFO lines come with every query) or `level`.
    """

    CONNECT_FAILED = "error connecting in %r: %s"
    GAVE_UP = "reconnection attempt in pool %r failed after %s sec"
    CONNECTED = "adding new connection to the pool"

    def __init__(self, level: str = "INFO") -> None:
        super().__init__()
        level = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        self.level = max(level, logging.WARNING)
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.said_at = 0.0
        self.failures = 0

    def filter(self, record: logging.LogRecord) -> bool:
        with self._lock:
            if record.msg == self.CONNECT_FAILED:
                return self._failed(record)
            if record.msg == self.GAVE_UP:
                return False  # the pool tries again when a connection is next asked for
            if record.msg == self.CONNECTED and self.down_since is not None:
                return self._back(record)
        return record.levelno >= self.level

    def _failed(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        self.failures += 1
        why = _first_line(record.args[-1])
        if self.down_since is None:
            self.down_since = self.said_at = now
            self._say(record, "the database can't be reached: %s (trying again; said again every %g s until it can)")
            record.args = (why, _every())
            return True
        if now - self.said_at < _every():
            return False
        self.said_at = now
        self._say(record, "the database still can't be reached after %d s (%d failed attempts): %s")
        record.args = (now - self.down_since, self.failures, why)
        return True

    def _back(self, record: logging.LogRecord) -> bool:
        self._say(record, "the database can be reached again, after %d s (%d failed attempts)")
        record.args = (time.monotonic() - self.down_since, self.failures)
        self.down_since, self.failures = None, 0
        return True

    @staticmethod
    def _say(record: logging.LogRecord, msg: str) -> None:
        record.msg = msg
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.name = "csbot.db"


def _first_line(error: object) -> str:
    # psycopg's message goes on with a hint ("Is the server running on that host…") on a line of its own.
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _every() -> float:
    from django.conf import settings

    return settings.DB_UNREACHABLE_LOG_SECONDS
