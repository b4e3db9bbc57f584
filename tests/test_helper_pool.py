"""Helper processes (csbot/helper_pool.py): a player message's heavier sync work runs in
other processes, at a lower CPU priority, and the answer path works through them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import pytest
from asgiref.sync import sync_to_async

from chat.models import Message, Player
from csbot import helper_pool
from tests import helper_calls, servers
from tests.chat.socket_client import PlayerSocket, answer_text


@pytest.fixture
def helpers(settings):
    settings.HELPER_PROCESSES = 1
    settings.HELPER_NICE = 7
    yield
    helper_pool.shutdown()


async def test_a_call_runs_in_another_process_at_a_lower_priority(helpers):
    pid, niceness = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert pid != os.getpid()
    assert niceness == os.nice(0) + 7


async def test_started_helpers_take_the_calls(helpers):
    started = helper_pool.start()
    pid, _ = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert started == [pid]


async def test_a_helper_has_imported_what_it_runs_before_its_first_call_of_it(helpers):
    """Else the first question it stores pays the import of chat/streaming/jobs.py."""
    from chat.streaming import jobs  # noqa: F401  registers jobs._start_and_prepare, as the web process does

    loaded = await helper_pool.in_helper(helper_calls.modules_loaded, ["chat.streaming.jobs", "chat.services"])
    assert loaded == ["chat.streaming.jobs", "chat.services"]


async def test_without_helpers_the_call_runs_in_a_thread_of_this_process(settings):
    settings.HELPER_PROCESSES = 0
    pid, niceness = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert (pid, niceness) == (os.getpid(), os.nice(0))


async def test_an_error_in_a_helper_reaches_the_caller(helpers):
    with pytest.raises(ValueError, match="no such order"):
        await helper_pool.in_helper(helper_calls.refuse, "no such order")
    pid, _ = await helper_pool.in_helper(helper_calls.who_runs_me)  # and the helper goes on
    assert pid != os.getpid()


async def test_a_helper_that_dies_fails_its_call_and_the_next_call_gets_a_new_one(helpers):
    first, _ = await helper_pool.in_helper(helper_calls.who_runs_me)
    with pytest.raises(BrokenProcessPool):
        await helper_pool.in_helper(helper_calls.die)
    second, _ = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert second not in (first, os.getpid())


async def test_a_function_a_helper_could_not_import_by_its_name_is_refused(helpers):
    def local():
        return 1

    with pytest.raises(TypeError, match="not importable"):
        await helper_pool.in_helper(local)


@pytest.mark.django_db(transaction=True)
async def test_a_helper_reads_the_database_this_process_runs_on(helpers):
    await sync_to_async(Player.objects.create)(language="en")
    assert await helper_pool.in_helper(helper_calls.count_players) == 1


@pytest.mark.django_db(transaction=True)
async def test_a_question_is_stored_and_answered_through_the_helpers(helpers, demo_kb):
    player = await sync_to_async(Player.objects.create)(language="zh-hans")
    sock = PlayerSocket(player.pk)
    await sock.connect()

    client_id = await sock.say("充值没有到账怎么办？")
    frames = await sock.receive_until(lambda frame: frame.get("type") == "end", timeout=30)
    await sock.close()

    ack = next(f for f in frames if f.get("type") == "ack")
    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    assert frames[-1]["status"] == "done" and frames[-1]["sources"]
    stored = await sync_to_async(lambda: {m.pk: m for m in Message.objects.all()})()
    assert stored[ack["id"]].client_id == client_id and stored[ack["id"]].text == "充值没有到账怎么办？"
    assert stored[bot["id"]].status == "done" and stored[bot["id"]].text == answer_text(frames, bot["id"]) != ""
    assert stored[bot["id"]].meta["intent"]["source"]  # the pipeline ran (in the helper) and said why


def test_helpers_exit_when_their_web_process_is_killed_outright(tmp_path):
    """SIGKILL (out of memory, `docker kill`) runs no cleanup: the helpers notice by themselves."""
    env = servers.product_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), HELPER_PROCESSES="2")
    script = (
        "import django, time; django.setup(); from csbot import helper_pool;"
        "print(*helper_pool.start(), flush=True); time.sleep(120)"
    )
    web = subprocess.Popen([sys.executable, "-c", script], cwd=servers.ROOT, env=env, stdout=subprocess.PIPE)
    try:
        helpers = [int(pid) for pid in web.stdout.readline().split()]
        assert len(helpers) == 2 and all(_alive(pid) for pid in helpers)
    finally:
        web.kill()
        web.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in helpers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in helpers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
