"""/readyz (csbot/readiness.py) says a web process is not ready while it can't reach its
database or Redis, and which: a process that warmed up and then lost Redis said ready while
every player's socket closed. What the driver said (host names, users) goes to the log only:
anyone who can reach the probe reads its body."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

import pytest
from django.test import AsyncClient

from chat.streaming.jobs import registry
from tests import servers
from tests.services import require_redis


@pytest.fixture
def warm_process(settings):
    settings.HELPER_PROCESSES = 0
    settings.WARM_UP_ON_START = False


async def test_the_liveness_probe_says_the_process_is_alive_and_nothing_of_its_configuration(settings):
    """Its body named the LLM provider to anyone: which upstream, and which key, to go after."""
    settings.LLM_PROVIDER = "openai"

    response = await AsyncClient().get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"ok": True}


@pytest.mark.django_db
async def test_the_probes_answer_one_that_asks_by_the_process_address_not_its_public_name(warm_process, settings):
    """docker-compose.yml's healthcheck asks http://127.0.0.1:8000/readyz, Kubernetes' probes
    ask by the pod's IP: with ALLOWED_HOSTS set to the public name, as README's Production
    says, both probes answered 400 and the web process never counted as healthy."""
    settings.ALLOWED_HOSTS = ["support.example.com"]
    by_address = {"host": "10.0.0.7:8000"}

    alive = await AsyncClient().get("/healthz", headers=by_address)
    ready = await AsyncClient().get("/readyz", headers=by_address)
    page = await AsyncClient().get("/", headers=by_address)

    assert (alive.status_code, alive.json()) == (200, {"ok": True})
    assert (ready.status_code, ready.json()["ready"]) == (200, True)
    assert page.status_code == 400  # every other page still answers only the names listed


@pytest.mark.django_db
async def test_a_process_that_reaches_its_database_and_redis_is_ready(warm_process, settings):
    settings.REDIS_URL = require_redis()

    response = await AsyncClient().get("/readyz")

    # All a balancer needs: not the helper count, nor that Redis is configured.
    assert (response.status_code, response.json()) == (200, {"ready": True})


@pytest.mark.django_db
async def test_a_process_that_is_stopping_is_not_ready_so_the_balancer_sends_players_elsewhere(warm_process):
    registry().stopping = True  # SIGTERM came: it finishes its answers (chat/streaming/lifecycle.py)

    response = await AsyncClient().get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"ready": False, "failed": ["stopping"]}


@pytest.mark.django_db
async def test_a_process_whose_redis_is_down_is_not_ready_and_says_why(warm_process, settings, caplog):
    port = servers.free_port()  # nothing listens there: Redis stopped
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"

    with caplog.at_level(logging.WARNING, logger="csbot.readiness"):
        first = await AsyncClient().get("/readyz")
        again = await AsyncClient().get("/readyz")

    assert first.status_code == again.status_code == 503
    assert first.json() == {"ready": False, "failed": ["redis"]}
    assert "127.0.0.1" not in first.content.decode() and str(port) not in first.content.decode()
    # What the driver said, once in the log, not at every probe.
    said = [r.getMessage() for r in caplog.records if r.name == "csbot.readiness"]
    assert len(said) == 1 and said[0].startswith("not ready: Redis can't be reached: ")
    assert f"connecting to 127.0.0.1:{port}" in said[0]


@pytest.mark.django_db
async def test_on_the_embedded_default_there_is_no_redis_to_reach(warm_process, settings):
    settings.REDIS_URL = ""

    response = await AsyncClient().get("/readyz")

    assert (response.status_code, response.json()) == (200, {"ready": True})


def test_a_web_process_that_cannot_open_its_database_is_not_ready_and_says_why(tmp_path):
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "gone" / "db.sqlite3"), HELPER_PROCESSES="0")
    server = servers.Daphne(env, tmp_path / "daphne.log").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url + "/readyz", timeout=10)
        alive = urllib.request.urlopen(server.url + "/healthz", timeout=10)
    finally:
        server.stop()

    assert refused.value.code == 503
    body = json.loads(refused.value.read())
    assert body.keys() == {"ready", "failed"} and "database" in body["failed"]  # why, only in the log
    assert alive.status == 200  # alive: a restart would not bring the database back
    assert "not ready: the database can't be reached: unable to open database file" in server.log()


def test_a_web_process_started_before_the_migrations_ran_is_not_ready_until_they_have(tmp_path):
    """A deploy that starts the new code before `manage.py migrate` has run."""
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), HELPER_PROCESSES="0")
    server = servers.Daphne(env, tmp_path / "daphne.log").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as before:
            urllib.request.urlopen(server.url + "/readyz", timeout=30)
        servers.manage(env, "migrate", "--noinput")
        after = json.loads(urllib.request.urlopen(server.url + "/readyz", timeout=30).read())
    finally:
        server.stop()

    assert before.value.code == 503
    body = json.loads(before.value.read())
    assert body.keys() == {"ready", "failed"} and "migrations" in body["failed"]  # maybe "warm_up" too
    said = server.log().split("not ready: the database can't be reached: ")[1].splitlines()[0]
    assert said.endswith(" migrations not applied: run manage.py migrate") and int(said.split()[0]) > 10
    assert after == {"ready": True}
