"""List rows are computed only while a dashboard is open somewhere (chat/staff_notify.py)."""

from __future__ import annotations

import asyncio

import pytest

from chat import staff_notify
from tests.chat.process_cleanup import close_process
from tests.chat.socket_client import PlayerSocket
from tests.chat.staff_client import StaffSocket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def computed_rows(monkeypatch, settings, demo_kb):
    """The rows staff_notify computes, by conversation id."""
    settings.LOCAL_PROVIDER_CHUNK_DELAY = 0.001
    settings.STAFF_ROW_BATCH_SECONDS = 0.05
    computed = []
    original = staff_notify._rows

    async def recorded(ids):
        computed.extend(ids)
        return await original(ids)

    monkeypatch.setattr(staff_notify, "_rows", recorded)
    return computed


async def a_chat(player) -> int:
    sock = PlayerSocket(player.pk)
    cid = (await sock.connect())["conversation"]["id"]
    await sock.say("How do I get a refund?")
    await sock.receive_until(lambda f: f.get("type") == "end")
    await sock.close()
    batcher = staff_notify.rows()
    while batcher.task is not None and not batcher.task.done():
        await asyncio.sleep(0.01)
    return cid


async def test_with_no_dashboard_open_no_row_is_computed_and_an_opened_one_lists_the_chat(lin, alice, computed_rows):
    cid = await a_chat(lin)
    assert computed_rows == []

    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "list", "filter": "open"})
    listed = await agent.receive_until(lambda f: f.get("type") == "list")
    assert [c["id"] for c in listed["conversations"]] == [cid]  # nothing it missed

    await a_chat(lin)
    await agent.close()
    assert cid in computed_rows  # open now: the rows go out


async def test_on_redis_a_dashboard_on_any_process_counts(redis_layer, alice):
    assert not await staff_notify.dashboards_open()
    agent = await StaffSocket.of(alice)
    await agent.connect()
    assert await staff_notify.dashboards_open()
    await agent.close()
    assert not await staff_notify.dashboards_open()
    await close_process()
