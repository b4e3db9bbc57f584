"""On the embedded default there is no broker, no worker and no beat: the web process
runs the beat schedule itself (csbot/embedded_beat.py), so a chat an agent closes
reaches the manager's analytics pages, as it does in production."""

from __future__ import annotations

import asyncio
import re
import time

import pytest
import requests

from tests import servers
from tests.e2e.player_client import NetPlayer, player_cookie
from tests.e2e.staff_client import NetStaff, staff_login


@pytest.fixture
def embedded_server(tmp_path):
    """`./run.sh`'s setup (SQLite, in-memory layer, eager Celery), the figures refreshed every second."""
    server = servers.demo_daphne(tmp_path, ANALYTICS_REFRESH_SECONDS="1")
    yield server
    server.stop()


def conversations_on_the_overview(base_url: str, cookie: str) -> str:
    """The overview's "Conversations" figure, as the manager's page shows it."""
    page = requests.get(f"{base_url}/analytics/", headers={"Cookie": cookie}, timeout=10)
    page.raise_for_status()
    found = re.search(r'data-testid="kpi-conversations"><span>[^<]*</span><strong>([^<]*)</strong>', page.text)
    assert found, page.text[:500]
    return found.group(1)


async def test_a_chat_closed_on_the_embedded_default_reaches_the_analytics_pages_without_a_worker(embedded_server):
    url = embedded_server.url
    manager = staff_login(url, "manager", "manager-demo-2026")
    assert conversations_on_the_overview(url, manager) == "0"

    agent_cookie = staff_login(url, "agent", "agent-demo-2026")
    async with NetPlayer(url, player_cookie(url)) as player, NetStaff(url, agent_cookie) as agent:
        cid = player.welcome["conversation"]["id"]
        await player.say("How do I get a refund?")
        await player.receive_until(lambda f: f.get("type") == "end")
        await agent.send({"type": "close", "conversation_id": cid})
        await player.receive_until(lambda f: f.get("type") == "state" and f["state"] == "closed")

    shown, deadline = "0", time.monotonic() + 20
    while shown != "1" and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        shown = await asyncio.to_thread(conversations_on_the_overview, url, manager)
    assert shown == "1", "the closed chat never reached the analytics overview"


@pytest.mark.django_db(transaction=True)
async def test_every_entry_of_the_beat_schedule_runs_in_the_web_process_without_an_error(caplog, monkeypatch):
    from django.conf import settings

    from analytics.models import WorkerHeartbeat
    from csbot import embedded_beat

    # The real entries, each due every 50 ms, each run once: the beat is then stopped with
    # no task left running in its thread.
    schedule = {name: {**entry, "schedule": 0.05} for name, entry in settings.CELERY_BEAT_SCHEDULE.items()}
    ran: set[str] = set()
    run = embedded_beat._run

    def run_once(task_name: str) -> None:
        if task_name not in ran:
            try:
                run(task_name)
            finally:
                ran.add(task_name)

    monkeypatch.setattr(embedded_beat, "_run", run_once)
    with caplog.at_level("ERROR", logger="csbot.embedded_beat"):
        beat = asyncio.create_task(embedded_beat.run_forever(schedule))
        try:
            # One task at a time, in turn: half a second was not always enough on a busy machine.
            async with asyncio.timeout(60):
                while ran != {entry["task"] for entry in schedule.values()}:
                    await asyncio.sleep(0.05)
        finally:
            beat.cancel()
    assert not caplog.records, [record.getMessage() for record in caplog.records]
    # The heartbeat entry ran, and wrote none: the web process is no Celery worker, and the
    # anomalies page listed it as one.
    assert await WorkerHeartbeat.objects.acount() == 0
