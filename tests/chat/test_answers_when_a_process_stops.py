"""An answer whose web process stops is finished anyway: the player is told, staff see why.

A stopping process fails its running answers itself; the answers of a process that
died are failed by the sweep of any other (chat/streaming/lifecycle.py). Across real
daphne processes: tests/e2e/test_process_stops.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from chat import services, staff_notify
from chat.events import publish
from chat.frames import stored_end_frame
from chat.models import Conversation, Message, Player, Runner
from chat.streaming import heartbeat, jobs, lifecycle
from csbot.runner import runner_name
from tests.chat.process_cleanup import close_process
from tests.chat.socket_client import PlayerSocket, is_delta

pytestmark = pytest.mark.django_db(transaction=True)

CUT_OFF_ZH = "由于我们这边的问题，回答被中断了。您可以重新提问，或转人工客服。"
# When the failure puts the chat in staff's queue: a question asked again waits for a person.
CUT_OFF_QUEUED_ZH = "由于我们这边的问题，回答被中断了，您的对话已转给人工客服。"
UNAVAILABLE_QUEUED_ZH = "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"


@pytest.fixture
def player(demo_kb):
    return Player.objects.create(language="zh-hans")


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


async def answer_still_streaming(player: Player, ernie) -> PlayerSocket:
    """The player's socket, their answer streaming: one sentence, then nothing."""
    ernie.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。"])
    ernie.script("hang", after=1)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    await sock.receive_until(is_delta)
    return sock


async def test_a_stopping_process_lets_a_running_answer_finish_and_the_player_reads_all_of_it(
    player, ernie_settings, settings, caplog
):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 10
    ernie_settings.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。", "谢谢。"], delay=0.3)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    await sock.receive_until(is_delta)

    assert await lifecycle.stop_answers() == 0  # none failed

    end = (await sock.receive_until(is_end))[-1]
    assert end["status"] == "done" and "error" not in end
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert (bot.status, bot.text, bot.error) == ("done", "充值到账通常需要五分钟。请耐心等待。谢谢。", "")
    cid = bot.conversation_id
    assert f"stopping: taking no new questions, letting the answers of chats #{cid} finish (up to 10 s)" in caplog.text
    assert f"stopping: the answers of chats #{cid} finished" in caplog.text
    await sock.close()


async def test_an_answer_still_streaming_at_the_end_of_the_grace_period_fails_and_the_chat_goes_to_staff(
    player, ernie_settings, settings, caplog
):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 0.5
    sock = await answer_still_streaming(player, ernie_settings)

    assert await lifecycle.stop_answers() == 1

    frames = await sock.receive_until(lambda f: f.get("type") == "state")
    end = next(f for f in frames if is_end(f))
    assert end["status"] == "failed" and end["error"] == CUT_OFF_QUEUED_ZH
    assert frames[-1]["state"] == "waiting"  # the player is told a person will see the chat
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert bot.status == "failed" and bot.text == "充值到账通常需要五分钟。"
    assert bot.error.startswith("stopped:")  # what staff see
    conversation = await sync_to_async(Conversation.objects.get)(pk=bot.conversation_id)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "bot_error")
    # The log names the chat as staff see it.
    failed = f"stopping: failed the answers of chats #{bot.conversation_id}, still running after 0.5 s"
    assert failed in caplog.text
    player_message = await sync_to_async(Message.objects.get)(sender="player")
    assert player_message.text == "充值没到账怎么办"
    await sock.close()


async def test_a_question_asked_while_the_process_stops_is_refused_and_given_back(player, ernie_settings, settings):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 10
    answered = await answer_still_streaming(player, ernie_settings)
    other_player = await sync_to_async(Player.objects.create)(language="en")
    other = PlayerSocket(other_player.pk)
    await other.connect()

    stopping = asyncio.create_task(lifecycle.stop_answers())
    await asyncio.sleep(0.1)
    client_id = await other.say("my top-up is missing")

    refused = await other.receive()
    assert refused == {
        "type": "error",
        "code": "restarting",
        "message": "We are restarting a server. Your message was not sent: please send it again in a moment.",
        "client_id": client_id,
    }
    assert (await other.comm.receive_output())["code"] == 4503  # the page reconnects to another process
    late = PlayerSocket(other_player.pk)
    connected, code = await late.comm.connect()
    assert (connected, code) == (False, 4503)
    assert not await sync_to_async(Message.objects.filter(conversation__player=other_player).exists)()

    for task in jobs.registry().tasks.values():  # the first player's answer hangs: stop it sooner
        task.cancel()
    await stopping
    await answered.close()


async def test_an_answer_being_prepared_at_the_end_of_the_grace_period_is_failed_not_left_streaming(
    player, ernie_settings, held_preparation, settings
):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 0.2
    # Its row is created by the question's call (a helper, in production), which runs on.
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    assert await asyncio.to_thread(held_preparation.preparing.wait, 10)
    stopping = asyncio.create_task(lifecycle.stop_answers())
    await asyncio.sleep(0.5)  # the grace period is over: the answer is to fail once its row exists
    held_preparation.go_on.set()
    assert await stopping == 1

    frames = await sock.receive_until(is_end)
    assert frames[-1]["status"] == "failed" and frames[-1]["error"] == UNAVAILABLE_QUEUED_ZH  # nothing was said yet
    assert not any(is_delta(f) for f in frames)
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert bot.status == "failed" and bot.error.startswith("stopped:")
    assert ernie_settings.requests == []
    await sock.close()


async def test_an_answer_still_streaming_after_its_deadline_fails(player, ernie_settings, settings):
    settings.ANSWER_MAX_SECONDS = 0.5
    ernie_settings.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。"])
    ernie_settings.script("hang", after=1)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")

    end = (await sock.receive_until(is_end, timeout=10))[-1]

    assert end["status"] == "failed" and end["error"] == CUT_OFF_QUEUED_ZH
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert bot.status == "failed" and bot.error == "timeout: still streaming after 0.5 s"
    await sock.close()


def orphan(player: Player, *, age: timedelta, text: str = "充值到账通常") -> Message:
    """A bot answer left `streaming` by a process that died `age` ago."""
    conversation = services.conversation_current(player=player)
    question = Message.objects.create(conversation=conversation, seq=1, sender="player", text="充值没到账怎么办")
    answer = Message.objects.create(
        conversation=conversation, seq=2, sender="bot", status="streaming", text=text, reply_to=question
    )
    Message.objects.filter(pk=answer.pk).update(created_at=timezone.now() - age)
    Conversation.objects.filter(pk=conversation.pk).update(last_seq=2)  # what comes next follows them
    return answer


async def test_the_sweep_fails_an_orphaned_answer_once_and_tells_whoever_follows_the_chat(player):
    answer = await sync_to_async(orphan)(player, age=timedelta(minutes=10))
    sock = PlayerSocket(player.pk)
    await sock.connect()

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1
    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 0  # another process's sweep finds nothing

    end = (await sock.receive_until(is_end))[-1]
    assert end["id"] == answer.pk
    assert end["status"] == "failed" and end["error"] == CUT_OFF_ZH
    stored = await sync_to_async(Message.objects.get)(pk=answer.pk)
    assert stored.status == "failed" and stored.text == "充值到账通常" and stored.error == services.ORPHANED
    # Older than any answer can be: its player is long gone, and it is not queued for staff.
    conversation = await sync_to_async(Conversation.objects.get)(pk=stored.conversation_id)
    assert conversation.state == "bot"
    await sock.close()


def test_the_sweep_leaves_answers_young_enough_to_be_alive(player, settings):
    settings.ANSWER_MAX_SECONDS, settings.ORPHAN_MARGIN_SECONDS = 300, 120
    young = orphan(player, age=timedelta(minutes=6))  # 360 s: its job may still run

    assert services.answers_orphaned(created_before=lifecycle.orphan_cutoff()) == []
    assert Message.objects.get(pk=young.pk).status == "streaming"


def test_an_orphan_without_text_tells_the_player_the_assistant_was_unavailable(player):
    answer = orphan(player, age=timedelta(minutes=10), text="")
    Message.objects.filter(sender="player").update(text="my top-up is missing")

    [orphaned] = services.answers_orphaned(created_before=timezone.now())
    failed = services.answer_orphaned_fail(message_id=orphaned)

    assert failed.pk == answer.pk
    unavailable = "Sorry, the assistant is unavailable right now. Please try again or ask for a human."
    assert failed.meta["player_error"] == unavailable


async def test_the_only_web_process_takes_every_streaming_answer_at_its_start_for_an_orphan(player):
    # The embedded default: the in-memory channel layer reaches no other process, so an
    # answer streaming when this one starts belongs to a process that is gone.
    young = await sync_to_async(orphan)(player, age=timedelta(seconds=1))
    assert lifecycle.only_process()

    sweeping = asyncio.create_task(lifecycle.sweep_forever(started_at=timezone.now()))
    try:
        for _ in range(50):
            stored = await sync_to_async(Message.objects.get)(pk=young.pk)
            if stored.status != "streaming":
                break
            await asyncio.sleep(0.1)
    finally:
        sweeping.cancel()

    assert stored.status == "failed" and stored.error == services.ORPHANED


def left_by(player: Player, runner: str, *, age: timedelta, text: str = "充值到账通常") -> Message:
    """A bot answer `age` old, still `streaming`, whose job runs (or ran) in the web process `runner`."""
    answer = orphan(player, age=age, text=text)
    Message.objects.filter(pk=answer.pk).update(meta={"runner": runner})
    return answer


def heard_from(runner: str, *, seconds_ago: float) -> None:
    heartbeat.runner_beat(name=runner)
    Runner.objects.filter(name=runner).update(beat_at=timezone.now() - timedelta(seconds=seconds_ago))


async def test_the_answer_of_a_web_process_gone_silent_fails_at_the_next_sweep_and_the_chat_goes_to_staff(
    player, redis_layer, settings, caplog
):
    settings.WEB_PROCESS_STALE_SECONDS = 30
    await sync_to_async(heard_from)("killed-host:17:dead", seconds_ago=31)
    answer = await sync_to_async(left_by)(player, "killed-host:17:dead", age=timedelta(seconds=40))
    sock = PlayerSocket(player.pk)  # the player, reconnected to this process
    await sock.connect()

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1  # minutes before the deadline would

    frames = await sock.receive_until(lambda f: f.get("type") == "state")
    end = next(f for f in frames if is_end(f))
    assert end["id"] == answer.pk and end["status"] == "failed" and end["error"] == CUT_OFF_QUEUED_ZH
    assert frames[-1]["state"] == "waiting"  # staff have the chat in their queue
    stored = await sync_to_async(Message.objects.get)(pk=answer.pk)
    assert (stored.status, stored.text, stored.error) == ("failed", "充值到账通常", services.ORPHANED)
    conversation = await sync_to_async(Conversation.objects.get)(pk=stored.conversation_id)
    assert conversation.handoff_reason == "bot_error"  # what staff read: "the bot failed"
    assert (
        f"failed the answer of chat #{conversation.pk} left streaming by web process killed-host:17:dead, "
        "gone silent or stopped" in caplog.text
    )
    await sock.close()
    await close_process()


async def test_a_player_on_an_english_page_whose_chinese_question_was_cut_off_reads_what_next_in_chinese(
    demo_kb, redis_layer, settings
):
    settings.WEB_PROCESS_STALE_SECONDS = 30
    player = await sync_to_async(Player.objects.create)(language="en")
    await sync_to_async(heard_from)("killed-host:17:dead", seconds_ago=31)
    await sync_to_async(left_by)(player, "killed-host:17:dead", age=timedelta(seconds=40))
    sock = PlayerSocket(player.pk)
    await sock.connect()

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1

    frames = await sock.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    # The notice and the queue's line under it in the answer's language, the question's.
    assert next(f for f in frames if is_end(f))["error"] == CUT_OFF_QUEUED_ZH
    assert frames[-1]["message"]["text"] == (
        "目前没有在线的人工客服。请在这里留言，留言后可以关闭此页面："
        "客服上线后的回复会保留在这个对话里，用这个浏览器再次打开即可看到。我们无法另行通知您，请稍后回来查看。"
    )
    await sock.close()
    await close_process()


def test_the_sweep_leaves_the_answers_of_a_web_process_heard_from_lately(player, redis_layer, settings):
    settings.WEB_PROCESS_STALE_SECONDS = 30
    heard_from("busy-host:18:beef", seconds_ago=5)
    alive = left_by(player, "busy-host:18:beef", age=timedelta(seconds=60))

    assert orphans_now() == []
    assert Message.objects.get(pk=alive.pk).status == "streaming"


def test_an_answer_younger_than_a_heartbeat_is_left_even_when_its_process_has_none_yet(player, redis_layer, settings):
    # A process that just started may store answers before its first heartbeat is written.
    settings.WEB_PROCESS_STALE_SECONDS = 30
    young = left_by(player, "new-host:19:f00d", age=timedelta(seconds=5))

    assert orphans_now() == []
    Message.objects.filter(pk=young.pk).update(created_at=timezone.now() - timedelta(seconds=31))
    assert orphans_now() == [young.pk]  # no heartbeat within the bound: it died


async def test_a_sweep_never_fails_its_own_process_answers_when_its_heartbeat_is_late(player, redis_layer, settings):
    # The database was away for longer than the bound: this process's own row is stale,
    # but its job still streams (the LLM needs no database).
    settings.WEB_PROCESS_STALE_SECONDS = 30
    await sync_to_async(heard_from)(runner_name(), seconds_ago=45)
    mine = await sync_to_async(left_by)(player, runner_name(), age=timedelta(seconds=40))

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 0
    assert (await sync_to_async(Message.objects.get)(pk=mine.pk)).status == "streaming"
    await close_process()


def orphans_now() -> list[int]:
    return services.answers_orphaned(
        created_before=lifecycle.orphan_cutoff(),
        runners_alive=heartbeat.runners_alive(),
        runner_started_before=timezone.now() - timedelta(seconds=30),
    )


async def test_a_job_whose_answer_another_process_failed_meanwhile_neither_overwrites_nor_ends_it_again(
    player, ernie_settings
):
    # This process was taken for dead (its heartbeat late) while its job still streamed.
    ernie_settings.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。", "谢谢。"], delay=0.3)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    first = (await sock.receive_until(is_delta))[-1]
    failed = await sync_to_async(services.answer_orphaned_fail)(message_id=first["i"], streamed_text=first["d"])
    await publish(failed.conversation_id, stored_end_frame(failed, failed.text))  # what the sweep sends

    while jobs.registry().busy(failed.conversation_id):  # the job streams on, then ends
        await asyncio.sleep(0.05)

    stored = await sync_to_async(Message.objects.get)(pk=first["i"])
    assert (stored.status, stored.text, stored.error) == ("failed", "充值到账通常需要五分钟。", services.ORPHANED)
    frames = []
    while not await sock.comm.receive_nothing(timeout=0.5):
        frames.append(await sock.receive())
    assert [f["status"] for f in frames if is_end(f)] == ["failed"]  # the sweep's, once
    await sock.close()


async def test_a_question_that_waited_for_a_dead_process_hand_back_answer_goes_to_staff(player, redis_layer, settings):
    """The hand-back's answer held the chat's claim, so the question Lin asked meanwhile, on
    another process, started no answer and waited for it; its process died. Lin's question
    was answered by nobody: the chat goes to staff, as after any answer that failed."""
    settings.WEB_PROCESS_STALE_SECONDS = 30
    answer = await sync_to_async(left_by)(player, "killed-host:17:dead", age=timedelta(seconds=40))
    await sync_to_async(Conversation.objects.filter(pk=answer.conversation_id).update)(answer_claim=answer.seq)
    waited = await sync_to_async(services.player_message_receive)(
        player=player, conversation_id=answer.conversation_id, client_id="meanwhile", text="还在吗？", with_answer=True
    )
    assert waited.reply is None  # it waited for the claim

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1

    conversation = await sync_to_async(Conversation.objects.get)(pk=answer.conversation_id)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "bot_error")
    await close_process()


def answer_left_by_a_dead_tab(player: Player, runner: str, *, age: timedelta) -> Message:
    """Lin's first tab asked; its process stored the answer with the question (taking the chat's
    answer claim) and died `age` ago, the answer still `streaming`."""
    conversation = services.conversation_current(player=player)
    first = services.player_message_receive(
        player=player, conversation_id=conversation.pk, client_id="tab-1", text="充值没到账怎么办", with_answer=True
    )
    Message.objects.filter(pk=first.reply.pk).update(meta={"runner": runner}, created_at=timezone.now() - age)
    return first.reply


async def test_a_question_that_waited_for_an_answer_whose_process_died_goes_to_staff(player, redis_layer, settings):
    """The answer to Lin's first tab held the chat's claim, so the question from his second tab, on
    another process, started no answer and waited for it; the first tab's process died. Nobody
    would answer that question: the chat goes to staff, as after any answer that failed."""
    settings.WEB_PROCESS_STALE_SECONDS = 30
    answer = await sync_to_async(answer_left_by_a_dead_tab)(player, "killed-host:17:dead", age=timedelta(seconds=40))
    waited = await sync_to_async(services.player_message_receive)(
        player=player, conversation_id=answer.conversation_id, client_id="tab-2", text="还在吗？", with_answer=True
    )
    assert (waited.reply, waited.waits) == (None, True)  # it waited for the claim

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1

    conversation = await sync_to_async(Conversation.objects.get)(pk=answer.conversation_id)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "bot_error")
    await close_process()


async def test_a_player_who_asked_again_elsewhere_is_not_queued_when_the_dead_process_answer_fails(
    player, redis_layer, settings
):
    settings.WEB_PROCESS_STALE_SECONDS = 30
    answer = await sync_to_async(left_by)(player, "killed-host:17:dead", age=timedelta(seconds=40))
    await sync_to_async(services.message_append)(
        conversation_id=answer.conversation_id, sender="player", text="还在吗？"
    )  # asked again, on the process the page reconnected to

    assert await lifecycle.sweep(lifecycle.orphan_cutoff()) == 1

    conversation = await sync_to_async(Conversation.objects.get)(pk=answer.conversation_id)
    assert conversation.state == "bot"  # the bot is answering them: no "you are in the queue"
    assert (await sync_to_async(Message.objects.get)(pk=answer.pk)).status == "failed"
    await close_process()


async def question_waiting_behind_an_answer(player: Player, ernie) -> PlayerSocket:
    """The player's socket, a second question stored while their answer (a short one) streams."""
    ernie.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。"], delay=0.1)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    await sock.receive_until(is_delta)
    client_id = await sock.say("我的账号被封了")  # waits for the answer streaming
    await sock.receive_until(lambda f: f.get("type") == "ack" and f["client_id"] == client_id)
    return sock


async def test_a_question_waiting_behind_an_answer_when_the_grace_period_ends_goes_to_staff_not_unanswered(
    player, ernie_settings, settings, monkeypatch, caplog
):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 1
    after_answer = staff_notify.after_answer

    async def ending_as_the_grace_period_ends(*args, **kwargs):
        # The first answer is ending (stored, being told to staff) just as the grace period ends.
        while not jobs.registry().cutting_off:
            await asyncio.sleep(0.01)
        await after_answer(*args, **kwargs)

    monkeypatch.setattr(staff_notify, "after_answer", ending_as_the_grace_period_ends)
    sock = await question_waiting_behind_an_answer(player, ernie_settings)

    await lifecycle.stop_answers()

    frames = await sock.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    end = next(f for f in frames if is_end(f))
    assert end["status"] == "done"  # the first answer finished
    # The player is told a person will reply to the question that waited, which is kept for staff.
    assert {"type": "state", "state": "waiting"} in frames
    assert frames[-1]["message"]["event"] == "no_agent"
    conversation = await sync_to_async(Conversation.objects.get)(player=player)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "bot_error")
    texts = await sync_to_async(list)(
        Message.objects.filter(conversation=conversation).order_by("seq").values_list("sender", "text")
    )
    assert texts[:3] == [
        ("player", "充值没到账怎么办"),
        ("bot", "充值到账通常需要五分钟。请耐心等待。"),
        ("player", "我的账号被封了"),
    ]
    assert f"stopping: chat #{conversation.pk} had a question waiting for an answer: passed to staff" in caplog.text
    await sock.close()


async def test_a_question_being_looked_up_when_the_grace_period_ends_goes_to_staff_not_unanswered(
    player, ernie_settings, settings, monkeypatch
):
    settings.ANSWER_SHUTDOWN_GRACE_SECONDS = 1

    async def slow_state(**kwargs):  # the job looks up the question that waited, slowly
        await asyncio.sleep(10)

    monkeypatch.setattr(jobs, "_state", slow_state)
    sock = await question_waiting_behind_an_answer(player, ernie_settings)

    await lifecycle.stop_answers()

    frames = await sock.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "system")
    assert next(f for f in frames if is_end(f))["status"] == "done"
    assert {"type": "state", "state": "waiting"} in frames
    conversation = await sync_to_async(Conversation.objects.get)(player=player)
    assert (conversation.state, conversation.handoff_reason) == ("waiting", "bot_error")
    await sock.close()


def chat_with(player: Player, *, answered: bool) -> tuple[int, int]:
    """A conversation of the bot's whose last question is answered, or not yet."""
    conversation = Conversation.objects.create(player=player, language="zh-hans")
    question = services.message_append(conversation_id=conversation.pk, sender="player", text="充值没到账怎么办")
    if answered:
        services.message_append(conversation_id=conversation.pk, sender="bot", text="充值到账通常需要五分钟。")
    return conversation.pk, question.pk


@pytest.mark.parametrize(("answered", "state"), [(True, "bot"), (False, "waiting")], ids=["answered", "waiting"])
async def test_at_the_end_of_the_grace_period_an_answer_started_apart_passes_on_only_a_question_still_waiting(
    player, settings, answered, state
):
    # A hand-back's answer (started apart from its question) loops to answer what the player
    # wrote meanwhile. At the end of the grace period no answer starts: a question left is
    # staff's, but a chat whose last question is answered stays the bot's, its player untold.
    conversation_id, question_id = await sync_to_async(chat_with)(player, answered=answered)
    reg = jobs.registry()
    reg.cutting_off = True
    try:
        jobs.start_answer(conversation_id, question_id)
        await asyncio.wait_for(reg.tasks[conversation_id], 5)
    finally:
        reg.cutting_off = False
    conversation = await sync_to_async(Conversation.objects.get)(pk=conversation_id)
    assert conversation.state == state
    notes = await sync_to_async(Message.objects.filter(conversation_id=conversation_id, sender="system").count)()
    assert notes == (0 if answered else 1)
