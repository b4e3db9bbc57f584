"""Logging filters (csbot/settings.py, LOGGING)."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied


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
