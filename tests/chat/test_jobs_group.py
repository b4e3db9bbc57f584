"""A takeover reaches the answer job through `conv.<id>.jobs` (chat/streaming/jobs.py).

The process joins that group when the player's socket connects and stays in it
while a socket or a job of the conversation is here: an answer starts already
able to hear a cancellation, without a group_add before it and a group_discard
after it, and a job whose player left can still be stopped.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer

from chat.groups import jobs_group
from chat.models import Message
from chat.streaming.jobs import registry
from chat.streaming.redis_client import redis_client
from tests.chat.process_cleanup import close_process
from tests.chat.socket_client import PlayerSocket
from tests.chat.staff_client import StaffSocket
from tests.fake_ernie_fixtures import use_fake_ernie

pytestmark = pytest.mark.django_db(transaction=True)

CHUNKS = [f"第{i}句：充值未到账时请先确认订单状态。" for i in range(1, 31)]


@pytest.fixture
def on_redis(redis_layer, settings, fake_ernie_thread, demo_kb):
    """The Redis channel layer; the fake ERNIE server streaming a chunk every 0.1 s."""
    fake_ernie_thread.configure(reply=CHUNKS, delay=0.1)
    use_fake_ernie(settings, fake_ernie_thread)
    settings.LLM_MAX_ATTEMPTS = 1


async def in_group(conversation_id: int) -> set[str]:
    """The channels Redis has in the conversation's jobs group."""
    layer = get_channel_layer()
    members = await redis_client().zrange(layer._group_key(jobs_group(conversation_id)), 0, -1)
    return {m.decode() for m in members}


async def settled(conversation_id: int) -> None:
    last = registry()._membership.get(conversation_id)
    if last is not None:
        await asyncio.gather(last, return_exceptions=True)


async def test_the_socket_joins_once_and_answers_need_no_group_changes(on_redis, lin, monkeypatch):
    layer = get_channel_layer()
    changes = []
    for name in ("group_add", "group_discard"):
        original = getattr(layer, name)

        async def counted(group, channel, _original=original, _name=name):
            if group.endswith(".jobs"):
                changes.append(_name)
            return await _original(group, channel)

        monkeypatch.setattr(layer, name, counted)

    player = PlayerSocket(lin.pk)
    welcome = await player.connect()
    cid = welcome["conversation"]["id"]
    control = await registry().control_channel()
    assert await in_group(cid) == {control}
    assert changes == ["group_add"]

    for question in ("充值没到账怎么办", "还是没到账"):
        await player.say(question)
        await player.receive_until(lambda f: f.get("type") == "end", timeout=15)
    assert changes == ["group_add"]  # two answers, no group change

    await player.close()
    await settled(cid)
    assert changes == ["group_add", "group_discard"]
    assert await in_group(cid) == set()
    await close_process()


async def test_a_takeover_stops_an_answer_whose_player_has_left(on_redis, lin, alice):
    player = PlayerSocket(lin.pk)
    cid = (await player.connect())["conversation"]["id"]
    await player.say("充值没到账怎么办")
    first = await player.receive_until(lambda f: f.get("t") == "d")
    await player.close()  # the answer goes on, and the process stays in the group for it
    await settled(cid)
    assert await in_group(cid) == {await registry().control_channel()}

    agent = await StaffSocket.of(alice)
    await agent.connect()
    await agent.send({"type": "take_over", "conversation_id": cid})
    await agent.receive_until(lambda f: f.get("type") in ("ok", "error"))
    running = list(registry().tasks.values())
    if running:
        await asyncio.wait(running, timeout=5)  # cancelled by the takeover
    await agent.close()

    stored = await sync_to_async(Message.objects.get)(pk=first[-1]["i"])
    assert stored.status == "interrupted" and 0 < len(stored.text) < len("".join(CHUNKS))
    await settled(cid)
    assert await in_group(cid) == set()  # the job let go when it ended
    await close_process()


async def test_holds_and_releases_reach_redis_in_order(on_redis):
    reg = registry()
    control = await reg.control_channel()
    cid = 10**9 + uuid.uuid4().int % 10**8

    await reg.hold(cid)
    reg.release(cid)
    await reg.hold(cid)  # queued behind the discard: must not be overtaken by it
    await settled(cid)
    assert await in_group(cid) == {control}

    reg.release(cid)
    await settled(cid)
    assert await in_group(cid) == set() and cid not in reg.holders
    await close_process()
