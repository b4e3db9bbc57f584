"""Access to the real services some tests need: PostgreSQL, Redis, Chromium.

Outside CI a missing service skips the test that needs it. With CI=true it
fails the test instead: CI must never go green by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket

import pytest

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    if in_ci():
        pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
    pytest.skip(f"{what} is not available")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_postgres() -> str:
    if not _port_open("127.0.0.1", 5432):
        missing("PostgreSQL on 127.0.0.1:5432")
    return POSTGRES_URL


def require_redis() -> str:
    if not _port_open("127.0.0.1", 6379):
        missing("Redis on 127.0.0.1:6379")
    return REDIS_URL


def require_chromium() -> str:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        missing(f"Chromium at {CHROMIUM}")
    return CHROMIUM


def require_gettext() -> None:
    """GNU gettext's tools, which Django's makemessages runs (xgettext, msgmerge, msguniq)."""
    for tool in ("xgettext", "msgmerge", "msguniq", "msgattrib"):
        if not shutil.which(tool):
            missing(f"GNU gettext ({tool})")
