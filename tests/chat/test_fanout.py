"""Frames reach the sockets of this process directly, and other processes' only when they follow."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from autobahn.exception import Disconnected
from channels.layers import channel_layers
from django.test import override_settings

from chat.streaming.fanout import Fanout
from tests.services import require_redis


class Socket:
    """Stands in for a consumer: what the fanout sends it, in order."""

    def __init__(self, broken: bool = False, closed: bool = False) -> None:
        self.frames: list[str] = []
        self.broken = broken
        self.closed = closed

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.closed:  # what daphne's socket raises once the browser has gone
            raise Disconnected("Attempted to send on a closed protocol")
        if self.broken:
            raise RuntimeError("socket closed")
        self.frames.append(text_data)


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


@pytest.fixture
def fresh_layers():
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def test_followers_get_frames_in_order_and_the_sender_does_not_get_its_own_message(fresh_layers):
    fanout = Fanout()
    sender, other_tab, staff = Socket(), Socket(), Socket()
    for socket in (sender, other_tab, staff):
        await fanout.join("conv.1", socket)

    await fanout.publish("conv.1", '{"type":"message"}', exclude=sender)
    for i in range(3):
        await fanout.publish("conv.1", f'{{"t":"d","o":{i}}}')
    await settle()

    assert sender.frames == ['{"t":"d","o":0}', '{"t":"d","o":1}', '{"t":"d","o":2}']
    assert other_tab.frames == staff.frames == ['{"type":"message"}', *sender.frames]


async def test_a_socket_that_fails_is_dropped_and_the_others_still_get_the_frame(fresh_layers):
    fanout = Fanout()
    gone, player = Socket(broken=True), Socket()
    await fanout.join("conv.2", gone)
    await fanout.join("conv.2", player)

    await fanout.publish("conv.2", "a")
    await fanout.publish("conv.2", "b")

    assert player.frames == ["a", "b"]
    assert gone not in fanout.members["conv.2"]


async def test_a_browser_that_closed_mid_answer_is_dropped_without_a_warning_in_the_log(fresh_layers, caplog):
    fanout = Fanout()
    closed, broken, player = Socket(closed=True), Socket(broken=True), Socket()
    for socket in (closed, broken, player):
        await fanout.join("conv.5", socket)

    with caplog.at_level("INFO", logger="chat.streaming.fanout"):
        await fanout.publish("conv.5", "a")

    assert player.frames == ["a"] and fanout.members["conv.5"] == {player}
    # Routine: no traceback. Anything else is worth one.
    assert [(r.levelname, r.exc_info is not None) for r in caplog.records] == [("WARNING", True)]


async def test_a_socket_that_left_gets_nothing_more(fresh_layers):
    fanout = Fanout()
    player = Socket()
    await fanout.join("conv.3", player)
    await fanout.publish("conv.3", "before")
    await fanout.leave("conv.3", player)
    await fanout.publish("conv.3", "after")
    await settle()

    assert player.frames == ["before"]
    assert "conv.3" not in fanout.members


async def test_with_one_process_frames_never_touch_the_channel_layer(fresh_layers):
    fanout = Fanout()
    player = Socket()
    await fanout.join("conv.4", player)
    relays = []
    assert await fanout.publish("conv.4", "message") is False  # it says nothing crossed
    assert await fanout.publish("conv.4", "delta", before_relay=lambda: relays.append(1)) is False

    assert player.frames == ["message", "delta"]
    assert relays == []  # nothing to prepare for: nothing left the process
    assert await fanout.followed_elsewhere("conv.4") is False
    assert fanout.layer.groups == {} and fanout.layer.channels == {}


@pytest.fixture
def redis_layer(fresh_layers):
    url = require_redis()
    config = {"hosts": [url], "prefix": f"csbot-fanout-{uuid.uuid4().hex[:8]}"}
    layers = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": config}}
    with override_settings(CHANNEL_LAYERS=layers, REDIS_URL=url):
        yield


async def test_across_processes_frames_go_out_only_while_another_process_follows(redis_layer):
    """Three fanouts on one Redis layer stand for three daphne processes."""
    answering, watching, announcing = Fanout(), Fanout(), Fanout()
    player, agent = Socket(), Socket()
    group = f"conv.{uuid.uuid4().int % 10**9}"
    await answering.join(group, player)

    assert await answering.followed_elsewhere(group) is False
    assert await announcing.followed_elsewhere(group) is True  # it follows nothing: it asks Redis
    prepared = []  # what the agent had each time the answering process was about to relay

    async def before_relay() -> None:
        prepared.append(list(agent.frames))

    assert await answering.publish(group, "only here", before_relay=before_relay) is False

    await watching.join(group, agent)
    await wait_for(lambda: answering.elsewhere[group])  # told through the group
    assert await answering.publish(group, "everywhere", before_relay=before_relay) is True
    await announcing.publish(group, "a state frame from a third process")
    await wait_for(lambda: len(agent.frames) == 2 and len(player.frames) == 3)
    await settle()

    assert player.frames == ["only here", "everywhere", "a state frame from a third process"]  # no copy twice
    assert agent.frames == ["everywhere", "a state frame from a third process"]
    assert prepared == [[]]  # once, for the frame that crossed, before it did
    assert watching.elsewhere[group] == {answering._channel}  # it learned who was there when it joined

    await watching.leave(group, agent)
    await wait_for(lambda: not answering.elsewhere[group])
    await answering.leave(group, player)
    assert await announcing.followed_elsewhere(group) is False
    for fanout in (answering, watching):
        fanout._reader.cancel()
    for fanout in (answering, watching, announcing):
        await fanout.redis().aclose()


async def wait_for(condition, seconds: float = 3.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
