"""A player with two tabs on two web processes asks two questions at the same moment.

Each process started an answer to the question it stored, and the player read two bot
answers streaming at once, interleaved. Now the first answer stored takes the chat's answer
claim in its question's UPDATE, the other question waits for it, and the claim's job answers
that one when it ends: every question is answered, one answer at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import pytest

from tests import servers
from tests.chat.race import last_line
from tests.e2e.player_client import NetPlayer, player_cookie

CHATS = 10
QUESTIONS = ("How do I join a guild?", "How does leveling work?")

# Each chat's questions, and the bot's answers to each, in the order they were stored.
STORED = """
import json
from chat.models import Message
out = {{}}
for cid in {ids}:
    said = Message.objects.filter(conversation_id=cid, sender__in=("player", "bot")).order_by("seq")
    out[cid] = [[m.sender, m.pk, m.reply_to_id, m.status] for m in said]
print(json.dumps(out))
"""


@pytest.fixture
def two_daphnes(production_env, tmp_path):
    # The offline provider, streaming each answer in about 16 chunks over 1.5 s: long enough to
    # overlap, and few enough deltas crossing to the other process that, on a busy machine, its
    # channel in Redis never fills (a real page would resume the frames dropped then).
    env = {**production_env, "LOCAL_PROVIDER_CHUNK_CHARS": "40", "LOCAL_PROVIDER_CHUNK_DELAY": "0.1"}
    first = servers.Daphne(env, tmp_path / "daphne-1.log").start()
    second = servers.Daphne(env, tmp_path / "daphne-2.log").start()
    yield first, second
    first.stop()
    second.stop()


async def open_tab(url: str, cookie: str) -> NetPlayer:
    tab = await NetPlayer(url, cookie).__aenter__()
    await tab.send({"type": "resume", "after_seq": 0, "streams": {}})
    await tab.receive_until(lambda f: f.get("type") == "resumed")
    return tab


async def until_both_answered(tab: NetPlayer, seconds: float = 60) -> list[dict]:
    """Every frame the tab gets until two answers have ended (or `seconds` have passed)."""
    frames: list[dict] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while sum(f.get("type") == "end" for f in frames) < len(QUESTIONS):
                frames.append(await tab.receive(timeout=seconds))
    return frames


def answers_overlapping(frames: list[dict]) -> list[str]:
    """What the tab showed of a bot answer while another one streamed."""
    streaming, overlaps = None, []
    for frame in frames:
        if frame.get("type") == "message" and frame["message"]["sender"] == "bot":
            if streaming is not None:
                overlaps.append(f"answer {frame['message']['id']} started while {streaming} streamed")
            streaming = frame["message"]["id"]
        elif frame.get("t") == "d" and frame["i"] != streaming:
            overlaps.append(f"a delta of answer {frame['i']} while {streaming} streamed")
        elif frame.get("type") == "end":
            streaming = None
    return overlaps


async def test_two_tabs_on_two_processes_asking_at_once_get_one_answer_at_a_time_each_question_answered(
    two_daphnes, production_env
):
    first, second = two_daphnes
    cookies = [player_cookie(first.url) for _ in range(CHATS)]
    tabs = [await open_tab(server.url, cookie) for cookie in cookies for server in (first, second)]
    try:
        started = time.perf_counter()
        # Every chat's two tabs send at once, each to its own process.
        await asyncio.gather(*(tab.say(QUESTIONS[n % 2]) for n, tab in enumerate(tabs)))
        seen = await asyncio.gather(*(until_both_answered(tab) for tab in tabs))
        took = time.perf_counter() - started
        ids = [tab.welcome["conversation"]["id"] for tab in tabs[::2]]
    finally:
        for tab in tabs:
            await tab.__aexit__()

    overlaps = {n: answers_overlapping(frames) for n, frames in enumerate(seen) if answers_overlapping(frames)}
    assert not overlaps, f"tabs that showed two answers streaming at once: {overlaps}"
    for frames in seen:
        shown = [f for f in frames if f.get("t") != "d"]
        assert [f["status"] for f in frames if f.get("type") == "end"] == ["done", "done"], shown

    stored = json.loads(last_line(servers.manage(production_env, "shell", "-c", STORED.format(ids=ids)).stdout))
    for said in stored.values():
        questions = [pk for sender, pk, _, _ in said if sender == "player"]
        answers = [(reply_to, status) for sender, _, reply_to, status in said if sender == "bot"]
        # Each question answered once, in the order they were stored, the second after the first's end.
        assert answers == [(q, "done") for q in questions], said
    print(f"\n{CHATS} chats, two tabs on two processes asking at once: all answered in {took:.1f} s")
