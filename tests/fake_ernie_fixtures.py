"""Fixtures for the fake ERNIE server (agents/fake_ernie.py).

Loaded for the whole suite by `pytest_plugins = ["tests.fake_ernie_fixtures"]`
in tests/conftest.py.

- `fake_ernie`: a FakeErnieServer on the test's own event loop (async tests).
- `fake_ernie_thread`: a FakeErnieThread, for sync tests, for tests whose
  Django runs in another process, and for async tests that want the fake off
  their loop.
- `ernie_settings`: the thread fake, with settings pointing the ERNIE provider at it.
- `use_fake_ernie(settings, server)` and `fake_ernie_env(server)`: the same
  wiring by hand, for pytest-django's `settings` or a subprocess environment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from agents.fake_ernie import FakeErnieServer, FakeErnieThread
from agents.providers import reset_providers
from agents.providers.http import close_session

__all__ = ["ernie_settings", "fake_ernie", "fake_ernie_env", "fake_ernie_thread", "use_fake_ernie"]


@pytest.fixture
async def fake_ernie() -> AsyncIterator[FakeErnieServer]:
    server = await FakeErnieServer().start()
    yield server
    # The provider's connection pool lives on this loop too: close it first.
    await close_session()
    await server.stop()
    assert not server.errors, f"the fake ERNIE server crashed: {server.errors!r}"


@pytest.fixture
def fake_ernie_thread() -> Iterator[FakeErnieThread]:
    server = FakeErnieThread().start()
    yield server
    server.stop()
    assert not server.errors, f"the fake ERNIE server crashed: {server.errors!r}"


@pytest.fixture
def ernie_settings(settings: Any, fake_ernie_thread: FakeErnieThread) -> Iterator[FakeErnieThread]:
    use_fake_ernie(settings, fake_ernie_thread)
    yield fake_ernie_thread
    reset_providers()


def use_fake_ernie(settings: Any, server: FakeErnieServer | FakeErnieThread) -> None:
    """Point LLM_PROVIDER=ernie at `server` for this test (pytest-django's `settings`)."""
    settings.LLM_PROVIDER = "ernie"
    settings.ERNIE_BASE_URL = server.base_url
    settings.ERNIE_API_KEY = server.api_key
    settings.ERNIE_SECRET_KEY = server.secret_key
    reset_providers()


def fake_ernie_env(server: FakeErnieServer | FakeErnieThread) -> dict[str, str]:
    """Environment variables that point a csbot process at `server`."""
    return {
        "LLM_PROVIDER": "ernie",
        "ERNIE_BASE_URL": server.base_url,
        "ERNIE_API_KEY": server.api_key,
        "ERNIE_SECRET_KEY": server.secret_key,
    }
