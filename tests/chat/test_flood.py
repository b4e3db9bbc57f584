"""A player sending faster than a person types is asked to wait; nothing they wrote is lost."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from chat.flood import FloodGuard
from chat.models import Message, Player
from tests.chat.socket_client import PlayerSocket


@pytest.fixture
def limits(settings):
    settings.PLAYER_MESSAGE_BURST = 3
    settings.PLAYER_MESSAGES_PER_MINUTE = 60  # one a second once the burst is spent
    return settings


def test_a_burst_is_allowed_then_one_message_a_second(limits):
    guard = FloodGuard()
    assert [guard.admit(7, now=100.0)[0] for _ in range(3)] == [True, True, True]
    assert guard.admit(7, now=100.1) == (False, True)  # the first refusal: staff are told
    assert guard.admit(7, now=100.2) == (False, False)  # the same flood: not again
    assert guard.admit(7, now=101.2) == (True, False)  # a second later, one more
    assert guard.admit(7, now=101.3) == (False, True)  # a new flood
    assert guard.admit(8, now=101.3) == (True, False)  # another player has their own bucket


def test_buckets_that_filled_up_again_are_forgotten(limits):
    guard = FloodGuard()
    guard.admit(7, now=100.0)
    guard.admit(8, now=100.0)
    guard.pruned_at = 100.0
    for _ in range(3):
        guard.admit(9, now=159.0)
    guard.admit(9, now=161.0)  # a minute on: 7 and 8 are full again, 9 is not
    assert set(guard.buckets) == {9}


@pytest.mark.django_db(transaction=True)
async def test_a_flood_is_refused_back_into_the_box_and_staff_see_it_once(demo_kb, limits):
    player = await sync_to_async(Player.objects.create)(language="en")
    sock = PlayerSocket(player.pk)
    await sock.connect()
    for n in range(3):
        await sock.say(f"hello {n}", client_id=f"ok-{n}")
    await sock.say("hello 3", client_id="fast-1")
    await sock.say("hello 4", client_id="fast-2")
    frames = await sock.receive_until(lambda f: f.get("client_id") == "fast-2" and f.get("type") == "error")
    await sock.close()

    refused = [f for f in frames if f.get("type") == "error"]
    assert [f["client_id"] for f in refused] == ["fast-1", "fast-2"]
    assert all(f["code"] == "slow_down" and "wait a moment" in f["message"] for f in refused)
    acked = sorted(f["client_id"] for f in frames if f.get("type") == "ack")
    assert acked == ["ok-0", "ok-1", "ok-2"]
    stored = await sync_to_async(list)(Message.objects.filter(sender="player").values_list("text", flat=True))
    assert sorted(stored) == ["hello 0", "hello 1", "hello 2"]
    notes = await sync_to_async(list)(Message.objects.filter(internal=True, meta__event="slow_down"))
    assert len(notes) == 1 and "hello 3" in notes[0].text


@pytest.mark.django_db(transaction=True)
async def test_the_refusal_is_in_the_players_language(demo_kb, limits):
    limits.PLAYER_MESSAGE_BURST = 1
    player = await sync_to_async(Player.objects.create)(language="zh-hans")
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("你好", client_id="ok")
    await sock.say("在吗", client_id="fast")
    frames = await sock.receive_until(lambda f: f.get("type") == "error")
    await sock.close()

    assert frames[-1]["code"] == "slow_down" and "稍" in frames[-1]["message"]
