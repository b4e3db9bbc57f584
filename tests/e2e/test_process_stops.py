"""A web process stops mid-answer, on the production path (PostgreSQL, Redis, real daphne
processes): a deploy's SIGTERM, which lets the answer finish within its grace period, and a
SIGKILL that leaves nothing to clean up. An answer that can't finish ends with a notice
instead of streaming forever, and staff see why (chat/streaming/lifecycle.py)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request

import psycopg
import pytest

from tests import servers
from tests.e2e.player_client import NetPlayer, player_cookie
from tests.e2e.staff_client import NetStaff, staff_login
from tests.fake_ernie_fixtures import fake_ernie_env

RESTARTING_EN = "We are restarting a server. Your message was not sent: please send it again in a moment."
CUT_OFF_ZH = "由于我们这边的问题，回答被中断了。您可以重新提问，或转人工客服。"
# When the failure puts the chat in staff's queue: a question asked again waits for a person.
CUT_OFF_QUEUED_ZH = "由于我们这边的问题，回答被中断了，您的对话已转给人工客服。"


@pytest.fixture
def hanging_ernie(fake_ernie_thread):
    """One sentence, then nothing: the answer is still streaming when its process stops."""
    fake_ernie_thread.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。"])
    fake_ernie_thread.script("hang", after=1, times=10)
    return fake_ernie_thread


@pytest.fixture
def env(production_env, hanging_ernie):
    upstream = {"LLM_MAX_ATTEMPTS": "1", "LLM_READ_TIMEOUT": "120", "INTENT_LLM": "off"}
    return {**production_env, **fake_ernie_env(hanging_ernie), **upstream}


def stored_answer(env: dict[str, str], message_id: int) -> tuple[str, str, str, str]:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        return conn.execute(
            "SELECT status, text, error, meta->>'player_error' FROM chat_message WHERE id = %s", [message_id]
        ).fetchone()


async def ask_and_see_it_stream(player: NetPlayer) -> tuple[int, int]:
    """The streaming answer's id, and the newest seq the player's page holds (the answer's)."""
    await player.send({"type": "resume", "after_seq": 0, "streams": {}})
    await player.receive_until(lambda f: f.get("type") == "resumed")
    await player.say("充值没到账怎么办")
    frames = await player.receive_until(lambda f: f.get("t") == "d")
    seq = max(f["message"]["seq"] for f in frames if f.get("type") == "message")
    return frames[-1]["i"], seq


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


SLOW_ANSWER = ["充值到账通常需要五分钟。", "请耐心等待。", "如果超过一小时仍未到账，", "请提供订单号。"]


@pytest.fixture
def slow_ernie_env(production_env, fake_ernie_thread):
    """An answer that takes a few seconds to stream, and ends."""
    fake_ernie_thread.configure(reply=SLOW_ANSWER, delay=0.8)
    upstream = {"LLM_MAX_ATTEMPTS": "1", "INTENT_LLM": "off", "ANSWER_SHUTDOWN_GRACE_SECONDS": "20"}
    return {**production_env, **fake_ernie_env(fake_ernie_thread), **upstream}


def readyz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


async def test_a_process_stopped_by_sigterm_lets_a_streaming_answer_finish_and_takes_no_new_question(
    slow_ernie_env, tmp_path
):
    daphne = servers.Daphne(slow_ernie_env, tmp_path / "daphne.log").start()
    try:
        cookie, other_cookie = player_cookie(daphne.url), player_cookie(daphne.url)
        async with NetPlayer(daphne.url, cookie) as player, NetPlayer(daphne.url, other_cookie) as other:
            answer, _ = await ask_and_see_it_stream(player)
            daphne.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            # The balancer sends nobody new here, and a question here is given back.
            status, ready = await asyncio.to_thread(readyz, daphne.url)
            client_id = await other.say("my top-up is missing")
            refused = await other.receive()
            frames = await player.receive_until(is_end)
        assert daphne.proc.wait(timeout=30) == 0, daphne.log()
    finally:
        daphne.stop()

    assert status == 503 and ready["ready"] is False and "stopping" in ready["failed"]
    assert (refused["code"], refused["client_id"]) == ("restarting", client_id)
    assert refused["message"] == RESTARTING_EN
    end = frames[-1]
    assert end["id"] == answer and end["status"] == "done" and "error" not in end
    assert "".join(f["d"] for f in frames if f.get("t") == "d") == "".join(SLOW_ANSWER[1:])
    status, text, error, player_error = stored_answer(slow_ernie_env, answer)
    assert (status, text, error, player_error) == ("done", "".join(SLOW_ANSWER), "", None)


async def test_an_answer_finishes_when_sigterm_reaches_the_web_process_and_its_helpers_alike(slow_ernie_env, tmp_path):
    # systemd's stop (KillMode=control-group) signals every process of the service.
    daphne = servers.Daphne(slow_ernie_env, tmp_path / "daphne.log", own_group=True).start()
    try:
        cookie = player_cookie(daphne.url)
        async with NetPlayer(daphne.url, cookie) as player:
            answer, _ = await ask_and_see_it_stream(player)
            os.killpg(daphne.proc.pid, signal.SIGTERM)
            end = (await player.receive_until(is_end))[-1]
        assert daphne.proc.wait(timeout=30) == 0, daphne.log()
    finally:
        daphne.stop()

    assert end["id"] == answer and end["status"] == "done"
    assert stored_answer(slow_ernie_env, answer)[:2] == ("done", "".join(SLOW_ANSWER))
    assert "helper process" not in daphne.log()  # none died, none was started again for the last seconds


async def test_a_process_stopped_by_sigterm_fails_what_still_streams_after_its_grace_period(env, tmp_path):
    daphne = servers.Daphne({**env, "ANSWER_SHUTDOWN_GRACE_SECONDS": "1"}, tmp_path / "daphne.log").start()
    try:
        cookie = player_cookie(daphne.url)
        async with NetPlayer(daphne.url, cookie) as player:
            answer, _ = await ask_and_see_it_stream(player)
            cid = player.welcome["conversation"]["id"]
            daphne.proc.send_signal(signal.SIGTERM)
            end = (await player.receive_until(is_end))[-1]
        assert daphne.proc.wait(timeout=15) == 0, daphne.log()
    finally:
        daphne.stop()

    assert end["id"] == answer and end["status"] == "failed" and end["error"] == CUT_OFF_QUEUED_ZH
    status, text, error, player_error = stored_answer(env, answer)
    assert (status, text, player_error) == ("failed", "充值到账通常需要五分钟。", CUT_OFF_QUEUED_ZH)
    assert error.startswith("stopped:")
    # Staff have the chat in their queue, as "the bot failed" (the player's page, reconnected
    # elsewhere, reads that a person will see it).
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        row = conn.execute("SELECT state, handoff_reason FROM chat_conversation WHERE id = %s", [cid]).fetchone()
    assert row == ("waiting", "bot_error")


async def eventually(check, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(check):
        assert time.monotonic() < deadline, "not within the time allowed"
        await asyncio.sleep(0.05)


def answer_end_waits(conn: psycopg.Connection) -> bool:
    """A web process's UPDATE storing an answer's end (as `done`) waits for the row's lock."""
    return bool(
        conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            # On its own, or first in the statement that also releases the chat's answer claim.
            """AND query LIKE '%UPDATE "chat_message" SET "text" = %, "status" = ''done''%'"""
        ).fetchone()
    )


async def test_an_answer_that_ends_as_the_grace_period_ends_is_logged_as_finished_not_failed(slow_ernie_env, tmp_path):
    """An answer storing its end as the grace period ran out finishes during the stop's wrap-up:
    the log listed it among the failed, and whoever read it looked for a cut-off player who had
    read the whole answer."""
    # No checkpoint while it streams: the only write to its row is its end.
    env = {**slow_ernie_env, "ANSWER_SHUTDOWN_GRACE_SECONDS": "0", "ANSWER_CHECKPOINT_SECONDS": "600"}
    daphne = servers.Daphne(env, tmp_path / "daphne.log").start()
    try:
        async with NetPlayer(daphne.url, player_cookie(daphne.url)) as player:
            answer, _ = await ask_and_see_it_stream(player)
            cid = player.welcome["conversation"]["id"]
            with psycopg.connect(env["DATABASE_URL"]) as lock, psycopg.connect(env["DATABASE_URL"]) as look:
                # The answer's row held a moment (a slow disk, a vacuum): it streams to its end and waits to be stored.
                lock.execute("SELECT 1 FROM chat_message WHERE id = %s FOR UPDATE", [answer])
                look.autocommit = True
                await eventually(lambda: answer_end_waits(look))
                daphne.proc.send_signal(signal.SIGTERM)
                await eventually(lambda: "stopping: taking no new questions" in daphne.log())
                lock.rollback()  # the grace period is over: the answer is stored as the stop wraps up
            end = (await player.receive_until(is_end))[-1]
        assert daphne.proc.wait(timeout=30) == 0, daphne.log()
    finally:
        daphne.stop()

    assert end["id"] == answer and end["status"] == "done"
    assert stored_answer(env, answer)[:2] == ("done", "".join(SLOW_ANSWER))
    assert f"stopping: the answers of chats #{cid} finished, 0 of them within the grace period" in daphne.log()
    assert "failed the answers" not in daphne.log()


async def test_the_answers_of_a_killed_process_are_ended_by_another_and_the_player_sees_it(env, tmp_path):
    # Short deadlines, so that the sweep takes the killed process's answer for an orphan soon
    # by its age (the heartbeat's bound, 30 s by default, is longer); not so short that a
    # busy machine's first token comes after them.
    env = {**env, "ANSWER_MAX_SECONDS": "6", "ORPHAN_MARGIN_SECONDS": "1", "ORPHAN_SWEEP_SECONDS": "0.5"}
    # The answer's text reaches Redis's buffer (written behind, ANSWER_BUFFER_FLUSH_SECONDS)
    # before the kill; its row has no checkpoint yet (ANSWER_CHECKPOINT_SECONDS).
    env |= {"ANSWER_BUFFER_FLUSH_SECONDS": "0", "ANSWER_CHECKPOINT_SECONDS": "60"}
    killed = servers.Daphne(env, tmp_path / "daphne-killed.log").start()
    try:
        cookie = player_cookie(killed.url)
        async with NetPlayer(killed.url, cookie) as player:
            answer, seq = await ask_and_see_it_stream(player)
            await asyncio.sleep(0.5)
            killed.proc.send_signal(signal.SIGKILL)
            killed.proc.wait(timeout=10)
    finally:
        killed.stop()
    assert stored_answer(env, answer)[0] == "streaming"  # nobody finished it

    # Without the warm-up too: the sweep does not depend on it.
    other = servers.Daphne({**env, "WARM_UP_ON_START": "false"}, tmp_path / "daphne-other.log").start()
    try:
        async with NetPlayer(other.url, cookie) as player:  # the player's page reconnects elsewhere
            # As the page resumes: after the newest seq it holds, with the answer's text so far. The
            # `end` comes in the reply if the sweep has failed the answer by then, else live.
            await player.send({"type": "resume", "after_seq": seq, "streams": {str(answer): 12}})
            frames = await player.receive_until(lambda f: is_end(f) and f["id"] == answer, timeout=20)
    finally:
        other.stop()

    end = frames[-1]
    assert end["status"] == "failed" and end["error"] == CUT_OFF_ZH
    status, text, error, player_error = stored_answer(env, answer)
    assert (status, text, player_error) == ("failed", "充值到账通常需要五分钟。", CUT_OFF_ZH)
    assert end["n"] == len(text)
    assert error.startswith("orphaned:")


async def test_a_killed_processs_answer_ends_within_the_heartbeat_bound_for_the_player_and_staff_elsewhere(
    env, tmp_path
):
    # The answer deadline stays production's (minutes): only the killed process's silent
    # heartbeat can end its answer this soon (chat/streaming/heartbeat.py).
    stale, sweep_every = 3.0, 0.5
    env = {**env, "WEB_PROCESS_STALE_SECONDS": str(stale), "ORPHAN_SWEEP_SECONDS": str(sweep_every)}
    env["ANSWER_BUFFER_FLUSH_SECONDS"] = "0"  # the text streamed so far is in Redis when the kill comes
    killed = servers.Daphne(env, tmp_path / "daphne-killed.log").start()
    other = servers.Daphne(env, tmp_path / "daphne-other.log").start()
    try:
        cookie = player_cookie(killed.url)
        async with NetStaff(other.url, staff_login(other.url, "agent", "agent-demo-2026")) as agent:
            async with NetPlayer(killed.url, cookie) as player:
                cid = player.welcome["conversation"]["id"]
                answer, seq = await ask_and_see_it_stream(player)
                await agent.send({"type": "watch", "conversation_id": cid, "after_seq": 0, "streams": {}})
                await agent.receive_until(lambda f: f.get("type") == "resumed")
                killed.proc.send_signal(signal.SIGKILL)
                killed.proc.wait(timeout=10)
                killed_at = time.monotonic()
            async with NetPlayer(other.url, cookie) as player:  # the page reconnects to the other process
                await player.send({"type": "resume", "after_seq": seq, "streams": {str(answer): 12}})
                seen = await player.receive_until(lambda f: is_end(f) and f["id"] == answer, timeout=20)
                ended_after = time.monotonic() - killed_at
                seen += await player.receive_until(lambda f: f.get("type") == "state")
            staff_saw = await agent.collect_until(
                lambda f: f.get("type") == "conversation" and f["conversation"]["id"] == cid
            )
    finally:
        killed.stop()
        other.stop()

    bound = stale + sweep_every + 3  # + the slack of a busy test machine
    assert ended_after < bound, f"the answer ended {ended_after:.1f} s after the kill"
    end = next(f for f in seen if is_end(f))
    assert end["status"] == "failed" and end["error"] == CUT_OFF_QUEUED_ZH
    assert [f.get("type") for f in seen].count("end") == 1
    assert seen[-1]["state"] == "waiting"  # the player is told a person will see the chat
    status, text, error, player_error = stored_answer(env, answer)
    assert (status, text, player_error) == ("failed", "充值到账通常需要五分钟。", CUT_OFF_QUEUED_ZH)
    assert error.startswith("orphaned:") and end["n"] == len(text)
    # The agent watching from the other process sees the answer end and the chat in the queue, and why.
    staff_end = next(f for f in staff_saw if is_end(f))
    assert staff_end["id"] == answer and staff_end["status"] == "failed"
    row = staff_saw[-1]["conversation"]
    assert (row["state"], row["handoff_reason"]) == ("waiting", "bot_error")
