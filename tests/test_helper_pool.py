"""Helper processes (csbot/helper_pool.py): a player message's heavier sync work runs in
other processes, at a lower CPU priority, and the answer path works through them."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures.process import BrokenProcessPool

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient

from chat.identity import player_id_from_cookie
from chat.models import Message, Player
from csbot import helper_pool, warm
from tests import helper_calls, servers
from tests.chat.socket_client import PlayerSocket, answer_text

# The pools the `helpers` fixture made. A helper takes seconds to set up (Django, the index:
# 5-10 s on CI's busy two cores), so the tests that only call one share it, module-wide;
# the tests of a pool's start and of its size start their own (`no_helpers_yet`).
_shared: list = []


@pytest.fixture(scope="module", autouse=True)
def _helpers_stop_after_the_module(django_db_setup):
    """The test database first: a shared helper is told the databases when it starts."""
    yield
    helper_pool.shutdown()
    _shared.clear()


def _shared_helpers(settings) -> None:
    settings.HELPER_PROCESSES = 1
    settings.HELPER_NICE = 7
    if helper_pool._pool is not None and helper_pool._pool not in _shared:
        helper_pool.shutdown()  # another test's pool, of another size or priority


@pytest.fixture
async def helpers(settings):
    _shared_helpers(settings)
    await helper_pool.ready()  # set up: until then its calls would run in threads (below)
    _shared.append(helper_pool._pool)
    yield
    pool = helper_pool._pool
    if pool is not None and any(helper.calls for helper in pool.helpers):
        helper_pool.shutdown()  # a call left running would take the next test's reply


@pytest.fixture
def no_helpers_yet():
    """For a test of what a pool does as it starts, or of its size."""
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
    from chat import views  # noqa: F401  registers the page's player_page_build, as csbot/asgi.py's warm-up does
    from chat.streaming import jobs  # noqa: F401  registers jobs._start_and_prepare

    wanted = ["chat.streaming.jobs", "chat.services", "chat.player_page"]
    assert await helper_pool.in_helper(helper_calls.modules_loaded, wanted) == wanted


async def test_when_the_helpers_are_busy_questions_go_first_then_connects_then_page_loads(helpers):
    """Players pouring in must not hold up the first tokens of those already asking, nor
    the sockets of those whose page has loaded (daphne drops a socket not accepted in 5 s)."""
    page = helper_pool.helper_pool(helper_calls.finish_time)
    connect = helper_pool.helper_pool(helper_calls.finish_time_of_a_connect, priority=1)
    question = helper_pool.helper_pool(helper_calls.finish_time_of_a_question, priority=2)

    busy = asyncio.ensure_future(helper_pool.in_helper(helper_calls.pause, 0.5))
    await asyncio.sleep(0.1)  # the helper has taken it
    pages = [asyncio.ensure_future(page()) for _ in range(3)]
    connects = [asyncio.ensure_future(connect()) for _ in range(3)]
    await asyncio.sleep(0.01)
    asked = await question()

    connected = await asyncio.gather(*connects)
    loaded = await asyncio.gather(*pages)
    assert await busy < asked < min(connected)  # a running call isn't overtaken, only waiting ones
    assert max(connected) < min(loaded)
    assert connected == sorted(connected) and loaded == sorted(loaded)  # in order within a priority


async def _a_question_while_the_helper_is_busy_and_then_this_loop_too() -> tuple[float, float, float]:
    """When the helper finished its running call, when it ran the question that came next,
    and when this loop was free again to read the first reply and hand out the question."""
    question = helper_pool.helper_pool(helper_calls.finish_time_of_a_question, priority=2)
    busy = asyncio.ensure_future(helper_pool.in_helper(helper_calls.pause, 0.2))
    await asyncio.sleep(0.05)  # the helper runs it
    asked = asyncio.ensure_future(question())
    await asyncio.sleep(0)  # the question's call is made
    time.sleep(0.5)  # this loop relays a thousand answers' chunks, say
    loop_free = time.monotonic()
    return await busy, await asked, loop_free


async def test_a_busy_helper_goes_on_to_the_question_it_holds_while_this_loop_is_busy(helpers, settings):
    """Under load the loop takes a while to read a reply and hand out the next call: the
    helper holds the next question already, and runs it meanwhile."""
    settings.HELPER_QUESTIONS_AHEAD = 1
    busy_done, asked, loop_free = await _a_question_while_the_helper_is_busy_and_then_this_loop_too()
    assert busy_done < asked < loop_free


async def test_without_questions_ahead_a_helper_waits_for_this_loop_between_calls(helpers, settings):
    settings.HELPER_QUESTIONS_AHEAD = 0
    busy_done, asked, loop_free = await _a_question_while_the_helper_is_busy_and_then_this_loop_too()
    assert busy_done < loop_free < asked


async def test_a_lone_question_is_not_held_behind_a_long_call_when_another_helper_frees_up_sooner(
    settings, no_helpers_yet
):
    """Only questions that queue anyway are held: a lone one goes to whichever helper is
    free first, not behind a call that may take long (a tool's slow HTTP call)."""
    settings.HELPER_PROCESSES = 2
    settings.HELPER_QUESTIONS_AHEAD = 1
    try:
        helper_pool.start()
        async with asyncio.timeout(60):
            while await helper_pool.count_ready() != (2, 2):
                await asyncio.sleep(0.02)
        question = helper_pool.helper_pool(helper_calls.finish_time_of_a_question, priority=2)
        long = asyncio.ensure_future(helper_pool.in_helper(helper_calls.pause, 0.8))
        short = asyncio.ensure_future(helper_pool.in_helper(helper_calls.pause, 0.2))
        await asyncio.sleep(0.05)  # both helpers run one
        asked = await question()
        assert await short < asked < await long
    finally:
        helper_pool.shutdown()


def test_helpers_hold_questions_ahead_on_sqlite_and_not_on_postgresql():
    """On PostgreSQL holding them only delayed chunks (docs/benchmarks-history.md, "The seventeenth round")."""
    postgres = "postgres://postgres@127.0.0.1:5432/postgres"
    assert servers.setting_in_a_fresh_process("HELPER_QUESTIONS_AHEAD") == "1"
    assert servers.setting_in_a_fresh_process("HELPER_QUESTIONS_AHEAD", DATABASE_URL=postgres) == "0"
    ahead_anyway = {"DATABASE_URL": postgres, "HELPER_QUESTIONS_AHEAD": "2"}
    assert servers.setting_in_a_fresh_process("HELPER_QUESTIONS_AHEAD", **ahead_anyway) == "2"


async def test_until_a_fresh_helper_has_set_up_calls_run_in_threads_rather_than_wait(settings, no_helpers_yet):
    """The first players after a start or a deploy: no wait for Django and the index to load."""
    _shared_helpers(settings)
    helper_pool.start()
    before = await helper_pool.in_helper(helper_calls.who_runs_me)
    await helper_pool.ready()
    after = await helper_pool.in_helper(helper_calls.who_runs_me)
    _shared.append(helper_pool._pool)  # set up now: the next tests may call it
    assert before[0] == os.getpid() != after[0]


async def test_without_helpers_the_call_runs_in_a_thread_of_this_process(settings):
    settings.HELPER_PROCESSES = 0
    pid, niceness = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert (pid, niceness) == (os.getpid(), os.nice(0))


def test_a_long_chats_history_crosses_the_pipe_whole_on_the_servers_loop(settings):
    """csbot.serve runs uvloop, whose add_reader makes the pipe non-blocking: a reply longer
    than the pipe holds at once (a long chat's resume) was read half-written, and its
    helper taken for dead (BlockingIOError), the socket dropped."""
    import uvloop

    _shared_helpers(settings)
    history = [f"第{i}句：充值未到账时请先确认订单状态。" for i in range(20_000)]  # about 1 MB

    async def call() -> list[str]:
        await helper_pool.ready()
        _shared.append(helper_pool._pool)
        return await helper_pool.in_helper(helper_calls.echo, history)

    assert uvloop.run(call()) == history


async def test_an_error_in_a_helper_reaches_the_caller(helpers):
    with pytest.raises(ValueError, match="no such order"):
        await helper_pool.in_helper(helper_calls.refuse, "no such order")
    pid, _ = await helper_pool.in_helper(helper_calls.who_runs_me)  # and the helper goes on
    assert pid != os.getpid()


async def test_a_helper_that_dies_fails_its_call_and_a_new_one_takes_the_calls(helpers):
    first, _ = await helper_pool.in_helper(helper_calls.who_runs_me)
    with pytest.raises(BrokenProcessPool):
        await helper_pool.in_helper(helper_calls.die)
    meanwhile, _ = await helper_pool.in_helper(helper_calls.who_runs_me)  # the new one is setting up
    await helper_pool.ready()
    second, _ = await helper_pool.in_helper(helper_calls.who_runs_me)
    assert meanwhile == os.getpid() and second not in (first, os.getpid())


async def test_a_helper_that_dies_fails_the_question_it_held_too(helpers, settings):
    """Nobody can tell whether it had started it: its caller hears so, as the running call's does."""
    settings.HELPER_QUESTIONS_AHEAD = 1
    question = helper_pool.helper_pool(helper_calls.finish_time_of_a_question, priority=2)
    dying = asyncio.ensure_future(helper_pool.in_helper(helper_calls.die_after, 0.2))
    await asyncio.sleep(0.05)
    held = asyncio.ensure_future(question())
    for call in (dying, held):
        with pytest.raises(BrokenProcessPool):
            await call
    await helper_pool.ready()
    assert await question() > 0  # the new helper takes the calls


async def test_the_answers_a_helper_stores_name_its_web_process_as_their_runner(helpers):
    """So that only this process may start again an answer whose call died (chat/streaming/recovery.py)."""
    from csbot.runner import runner_name

    assert await helper_pool.in_helper(helper_calls.runner) == runner_name()


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
async def test_a_question_is_stored_and_answered_through_the_helpers(demo_kb, no_helpers_yet, helpers):
    # The KB, then a helper of its own: a shared one's index could be of the database before it.
    player = await sync_to_async(Player.objects.create)(language="zh-hans")
    sock = PlayerSocket(player.pk)
    await sock.connect()  # the connect's queries run in the helper too

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


def test_a_helper_still_setting_up_exits_at_once_when_its_web_process_goes(settings):
    """At a low priority on a busy machine, setting up took more than ten seconds, all for a
    web process already gone; the helper then failed on READY with a BrokenPipeError."""
    context = multiprocessing.get_context("spawn")
    web_end, helper_end = context.Pipe()
    slow = ["tests.helper_slow_setup"]  # a minute to set up
    helper = context.Process(target=helper_pool._helper_main, args=(helper_end, 0, settings.DATABASES, slow))
    helper.start()
    helper_end.close()
    try:
        web_end.close()  # as when the web process is killed: its end of the pipe closes
        helper.join(10)
        assert helper.exitcode == 0  # it exited, quietly
    finally:
        helper.kill()
        helper.join()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.django_db(transaction=True)
async def test_the_player_page_is_built_in_a_helper_for_new_returning_and_refused_visitors(helpers):
    client = AsyncClient()

    first = await client.get("/", headers={"accept-language": "zh-hans"})
    again = await client.get("/", headers={"accept-language": "zh-hans"})
    refused = await AsyncClient().get("/?token=forged", headers={"accept-language": "en"})

    assert first.status_code == again.status_code == 200
    assert 'lang="zh-hans"' in first.text and "发送" in first.text  # "Send"
    csrf = first.cookies["csrftoken"].value
    assert 'name="csrfmiddlewaretoken" value="' in first.text and csrf
    # The same player. The cookie is signed again with each page, with the time in
    # seconds, so the values differ when the two loads straddle a second.
    player = player_id_from_cookie(first.cookies["csbot_player"].value)
    assert player is not None and player_id_from_cookie(again.cookies["csbot_player"].value) == player
    assert await sync_to_async(Player.objects.count)() == 1
    assert refused.status_code == 403 and "not valid" in refused.text and "csbot_player" not in refused.cookies


@pytest.mark.django_db
async def test_the_process_is_not_ready_until_its_helpers_have_set_up(settings, caplog, no_helpers_yet):
    """/readyz: what a load balancer or a rolling deploy waits for before sending players
    (/healthz only says the process is alive)."""
    _shared_helpers(settings)
    helper_pool.start()
    starting = await AsyncClient().get("/readyz")
    await helper_pool.ready()
    ready = await AsyncClient().get("/readyz")
    _shared.append(helper_pool._pool)  # set up now: the next tests may call it

    assert starting.status_code == 503 and starting.json() == {"ready": False, "failed": ["helpers"]}
    assert "Service Unavailable" not in caplog.text  # expected at every start: not logged as an error
    assert (ready.status_code, ready.json()) == (200, {"ready": True})
    # How many, for the operator only: the body is anyone's (csbot/readiness.py).
    assert "readiness: warmed up, 1 of 1 helper processes set up" in caplog.text


@pytest.mark.django_db
async def test_the_process_is_not_ready_until_its_warm_up_has_run(settings, monkeypatch):
    settings.HELPER_PROCESSES = 0
    settings.WARM_UP_ON_START = True
    monkeypatch.setattr(warm, "_done", threading.Event())  # this process's warm-up, not yet run

    before = await AsyncClient().get("/readyz")
    await sync_to_async(warm.warm_and_freeze)()
    after = await AsyncClient().get("/readyz")

    assert (before.status_code, before.json()) == (503, {"ready": False, "failed": ["warm_up"]})
    assert (after.status_code, after.json()) == (200, {"ready": True})


async def test_an_answers_writes_run_in_the_helpers_on_postgresql_and_in_threads_on_sqlite(settings):
    """In a thread each write takes the GIL from the loop relaying the other answers; on SQLite,
    whose writers take turns across processes, a helper waiting its turn would hold up questions."""
    from chat.streaming import jobs

    _shared_helpers(settings)
    engine = settings.DATABASES["default"]["ENGINE"]
    try:
        settings.DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
        on_postgresql = jobs._answer_write(helper_calls.who_runs_me, priority=2)
        settings.DATABASES["default"]["ENGINE"] = "csbot.sqlite"
        on_sqlite = jobs._answer_write(helper_calls.who_runs_me, priority=2)
    finally:
        settings.DATABASES["default"]["ENGINE"] = engine
    await helper_pool.ready()
    _shared.append(helper_pool._pool)
    (helper, _), (thread, _) = await on_postgresql(), await on_sqlite()
    assert helper != os.getpid() and thread == os.getpid()
