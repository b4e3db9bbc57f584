"""Each web process's heartbeat tells the others whether it is alive (chat/streaming/heartbeat.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Runner
from chat.streaming import heartbeat
from csbot.runner import runner_name

pytestmark = pytest.mark.django_db(transaction=True)


def alive() -> set[str]:
    return set(heartbeat.runners_alive().values_list("name", flat=True))


def test_a_web_process_that_beats_is_alive_and_one_silent_too_long_is_not(redis_layer, settings):
    settings.WEB_PROCESS_STALE_SECONDS = 30
    heartbeat.runner_beat(name="web-a:101:aaaa")
    heartbeat.runner_beat(name="web-b:202:bbbb")
    assert alive() == {"web-a:101:aaaa", "web-b:202:bbbb"}

    Runner.objects.filter(name="web-b:202:bbbb").update(beat_at=timezone.now() - timedelta(seconds=31))
    assert alive() == {"web-a:101:aaaa"}

    heartbeat.runner_beat(name="web-b:202:bbbb")  # it was only slow: its next beat counts
    assert alive() == {"web-a:101:aaaa", "web-b:202:bbbb"}
    assert Runner.objects.count() == 2


def test_a_web_process_silent_for_a_day_is_forgotten(redis_layer):
    heartbeat.runner_beat(name="web-a:101:aaaa")
    heartbeat.runner_beat(name="web-old:303:cccc")
    Runner.objects.filter(name="web-old:303:cccc").update(beat_at=timezone.now() - timedelta(days=2))

    assert heartbeat.runners_forget() == 1
    assert list(Runner.objects.values_list("name", flat=True)) == ["web-a:101:aaaa"]


async def test_a_web_process_on_the_production_path_writes_its_heartbeat_at_once(redis_layer, settings):
    settings.WEB_PROCESS_STALE_SECONDS = 60
    beating = asyncio.create_task(heartbeat.beat_forever())
    try:
        for _ in range(50):
            if await Runner.objects.filter(name=runner_name()).aexists():
                break
            await asyncio.sleep(0.1)
    finally:
        beating.cancel()
    assert await Runner.objects.filter(name=runner_name()).aexists()


async def test_the_only_web_process_knows_itself_alive_without_writing_anything():
    # The embedded default: the in-memory channel layer reaches no other process.
    await asyncio.wait_for(heartbeat.beat_forever(), 1)  # returns at once

    assert heartbeat.runners_alive() == [runner_name()]
    assert not await Runner.objects.aexists()
