"""Shared fixtures. The cast: a player, another player who must see nothing of
the first one's chat, an agent (Alice), another agent (Bob), a manager (Mia)."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings

from tests import servers
from tests.services import CHROMIUM_ARGS, require_chromium, require_postgres, require_redis

# Settings, not the environment: pytest-django has read csbot/settings.py by now.
# The in-process app must not warm up in a thread outside the tests' database access.
settings.WARM_UP_ON_START = False
# In-process apps store and prepare in threads: a helper process could not see the
# test's open transaction. tests/test_helper_pool.py and the daphne tests run helpers.
settings.HELPER_PROCESSES = 0
# Worker threads close their connection after each call, as before the embedded default kept
# them open (csbot/settings.py): a test without database access must not find one left open
# by an earlier test in a thread it calls. tests/test_db_threads.py checks the kept ones.
settings.DATABASES["default"]["CONN_MAX_AGE"] = 0

# The in-process app's module runs django.setup() again, which configures logging again
# and takes pytest's log capture off the root logger: the test that first imported it
# saw nothing in caplog. Imported here, once, before any test captures.
import csbot.asgi  # noqa: E402, F401

pytest_plugins = ["tests.fake_ernie_fixtures"]


@pytest.fixture(autouse=True)
def _fresh_process_state(settings):
    """Providers, the answer buffer and the alerts' baselines are per-process; tests change
    settings and each has a database of its own."""
    from django.utils import translation

    from agents.knowledge.index import invalidate
    from agents.providers import reset_providers
    from analytics.services.anomalies import usual
    from chat.streaming.buffer import reset_buffer

    # Tests that need an answer still streaming set a slower pace themselves; the rest wait
    # for every chunk of the answers they read, and at 5 ms those waits made a sixth of the run.
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    # Staff logins hashed with PBKDF2's 10^6 rounds took 0.26 s each: demo_setup's two were half
    # the setup of every test on the demo data. Django's advice for tests; servers keep PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    reset_providers()
    reset_buffer()
    invalidate()
    usual.forget()
    yield
    reset_providers()
    reset_buffer()
    # A request in Chinese leaves Chinese active in its thread (the locale middleware does
    # not reset it), and a later test in that thread would read Chinese words.
    translation.deactivate()


DEMO_BACKEND_AUTH = "Bearer test-backend-token"


@pytest.fixture(scope="session")
def demo_backend_server():
    """The demo game backend (agents/demo_backend.py) on a free port, for the whole session."""
    from agents.demo_backend import DemoBackend

    backend = DemoBackend(auth=DEMO_BACKEND_AUTH, slow_seconds=2.0).start()
    yield backend
    backend.stop()


@pytest.fixture
def game_backend(demo_backend_server, settings, monkeypatch):
    """Tools in this process call the demo backend; its request log starts empty."""
    settings.GAME_BACKEND_URL = demo_backend_server.url
    monkeypatch.setenv("GAME_BACKEND_AUTH", DEMO_BACKEND_AUTH)
    demo_backend_server.requests.clear()
    return demo_backend_server


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory, demo_backend_server):
    """daphne serving csbot on the embedded default, with the demo data and the demo game backend."""
    tmp = tmp_path_factory.mktemp("chat_server")
    env = servers.product_env(
        SQLITE_PATH=str(tmp / "db.sqlite3"),
        LOCAL_PROVIDER_CHUNK_DELAY="0.03",
        GAME_BACKEND_URL=demo_backend_server.url,
        GAME_BACKEND_AUTH=DEMO_BACKEND_AUTH,
    )
    servers.demo_database(tmp / "db.sqlite3")
    server = servers.Daphne(env, tmp / "daphne.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def production_env(tmp_path_factory):
    """Environment for processes on the production path: PostgreSQL and Redis."""
    admin_url = require_postgres()
    redis_url = require_redis()
    name = f"csbot_test_{os.getpid()}"
    database_url = servers.create_postgres_database(admin_url, name)
    env = servers.product_env(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        CHANNEL_PREFIX=f"csbot-test-{uuid.uuid4().hex[:8]}",
        DEBUG="false",
        **servers.PRODUCTION_SECRETS,
        # Plain http to the test servers: cookies marked Secure would not come back.
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
    )
    servers.manage(env, "migrate", "--noinput")
    # DEBUG is off, as in production; this database is the tests' own.
    servers.manage(env, "demo_setup", "--allow-demo-accounts")
    yield env
    servers.drop_postgres_database(admin_url, name)


@pytest.fixture
def demo_kb(db):
    """The demo knowledge base and accounts, as the run command's `demo_setup` loads them
    (imported once, then copied: tests/demo_knowledge.py)."""
    from tests.demo_knowledge import load_demo_data

    # pytest-django runs tests with DEBUG off; the test database is throwaway.
    load_demo_data()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download can't run here).

    Module scope, not session: Playwright's sync API keeps an event loop running
    in this thread while it is open, and async tests after it could not start theirs.
    """
    executable = require_chromium()
    from playwright.sync_api import expect, sync_playwright

    # An assertion waits up to 15 s for the page to get there, as actions do (each context's
    # default), not Playwright's 5 s: on CI's two cores, busy with daphne and Chromium, a whole
    # answer at the servers' test pace took longer than 5 s to stream. A passing check returns
    # as soon as the page matches, so this costs nothing when the page is quick.
    expect.set_options(timeout=15_000)

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
