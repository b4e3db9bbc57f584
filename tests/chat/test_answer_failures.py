"""When the upstream fails, the player is told, nothing they saw is lost, and staff can see it."""

from __future__ import annotations

import re
import time

import pytest
from asgiref.sync import sync_to_async

from agents.fake_openai import FakeOpenAIServer
from agents.providers import reset_providers
from agents.providers.http import close_session
from chat import presence
from chat.models import ConversationEvent, Message, Player
from tests.chat.conftest import make_user
from tests.chat.socket_client import PlayerSocket, answer_text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def player(demo_kb):
    return Player.objects.create(language="zh-hans")


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


def is_system_line(frame: dict) -> bool:
    return frame.get("type") == "message" and frame["message"]["sender"] == "system"


async def ask(player: Player, question: str, *, until=is_end) -> list[dict]:
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say(question)
    frames = await sock.receive_until(until, timeout=15)
    await sock.close()
    return frames


async def answer_read(player: Player, question: str) -> str:
    """The answer's text as the player read it, once it ended `done`."""
    frames = await ask(player, question)
    assert frames[-1]["status"] == "done"
    return "".join(f["d"] for f in frames if f.get("t") == "d")


def what_the_player_reads_after(frames: list[dict]) -> list[str]:
    """The failed answer's notice, then the system lines under it."""
    end = next(f for f in frames if is_end(f))
    return [end["error"], *(f["message"]["text"] for f in frames[frames.index(end) :] if is_system_line(f))]


async def test_an_error_after_the_first_token_keeps_the_partial_answer_and_tells_the_player(
    player, ernie_settings, caplog
):
    ernie_settings.configure(reply=["充值到账通常需要五分钟。", "请耐心等待。"])
    ernie_settings.script("error_after_first_token", error_code=336100)

    frames = await ask(player, "充值没到账怎么办", until=is_system_line)

    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    end = next(f for f in frames if is_end(f))
    assert end["status"] == "failed"
    assert what_the_player_reads_after(frames) == [
        "由于我们这边的问题，回答被中断了，您的对话已转给人工客服。",
        "目前没有在线的人工客服。请在这里留言，留言后可以关闭此页面："
        "客服上线后的回复会保留在这个对话里，用这个浏览器再次打开即可看到。我们无法另行通知您，请稍后回来查看。",
    ]
    assert answer_text(frames, bot["id"]) == "充值到账通常需要五分钟。"
    stored = await sync_to_async(Message.objects.get)(pk=bot["id"])
    assert stored.status == "failed" and stored.text == "充值到账通常需要五分钟。"
    assert "336100" in stored.error  # what staff see
    assert len(ernie_settings.requests) == 1  # no retry once the player has seen text
    # The log names the chat as staff see it, by its number.
    assert f"answer {stored.pk} in chat #{stored.conversation_id} failed: " in caplog.text


async def test_a_qps_error_before_the_first_token_is_retried_unseen(player, ernie_settings, settings):
    settings.LLM_RETRY_BACKOFF = 0.01
    ernie_settings.configure(reply=["好的，", "马上为您查询。"])
    ernie_settings.script("error_object", error_code=18)

    frames = await ask(player, "充值没到账怎么办")

    assert frames[-1]["status"] == "done"
    assert len(ernie_settings.requests) == 2
    assert "".join(f["d"] for f in frames if f.get("t") == "d") == "好的，马上为您查询。"


async def test_a_player_whose_question_met_ernies_qps_limit_for_a_while_gets_the_answer(
    player, ernie_settings, settings
):
    settings.LLM_RETRY_BACKOFF = 0.02
    ernie_settings.configure(reply=["好的，", "马上为您查询。"])
    ernie_settings.script("error_object", error_code=18, times=5)  # more than LLM_MAX_ATTEMPTS

    assert await answer_read(player, "充值没到账怎么办") == "好的，马上为您查询。"
    assert len(ernie_settings.requests) == 6


async def test_a_player_whose_answer_waits_out_a_rate_limit_is_told_once_that_it_is_coming(
    player, ernie_settings, settings
):
    settings.LLM_RETRY_BACKOFF = 0.02
    ernie_settings.configure(reply=["好的，", "马上为您查询。"])
    ernie_settings.script("error_object", error_code=18, times=3)

    frames = await ask(player, "充值没到账怎么办")

    bot = next(f["message"]["id"] for f in frames if f.get("type") == "message")
    told = [i for i, f in enumerate(frames) if f.get("type") == "busy"]
    assert [frames[i] for i in told] == [{"type": "busy", "id": bot}]
    assert told[0] < next(i for i, f in enumerate(frames) if f.get("t") == "d")  # before the answer's text


async def test_a_player_back_in_the_middle_of_a_rate_limit_is_told_again_that_the_answer_is_coming(
    player, ernie_settings, settings
):
    """`busy` was live only: a reload or a reconnect during the wait showed the dots alone."""
    settings.LLM_RETRY_BACKOFF = 0.05
    ernie_settings.configure(reply=["好的，", "马上为您查询。"])
    ernie_settings.script("error_object", error_code=18, times=1000)  # until cleared below
    first = PlayerSocket(player.pk)
    await first.connect()
    await first.say("充值没到账怎么办")
    told = await first.receive_until(lambda f: f.get("type") == "busy", timeout=15)
    bot = next(f["message"] for f in told if f.get("type") == "message" and f["message"]["sender"] == "bot")

    async def resume(after_seq: int, streams: dict) -> list[dict]:
        sock = PlayerSocket(player.pk)
        await sock.connect()
        await sock.send({"type": "resume", "after_seq": after_seq, "streams": streams})
        frames = await sock.receive_until(lambda f: f.get("type") == "resumed")
        await sock.close()
        return frames

    reloaded = await resume(0, {})
    assert next(f["message"] for f in reloaded if f.get("message", {}).get("id") == bot["id"])["busy"] is True
    reconnected = await resume(bot["seq"], {str(bot["id"]): 0})
    assert {"type": "busy", "id": bot["id"]} in reconnected

    ernie_settings.clear_faults()
    await first.receive_until(is_end, timeout=15)
    await first.close()
    answered = next(f["message"] for f in await resume(0, {}) if f.get("message", {}).get("id") == bot["id"])
    assert answered["text"] == "好的，马上为您查询。" and "busy" not in answered


async def test_staff_read_how_long_a_rate_limit_was_waited_out_before_the_chat_came_to_them(
    player, ernie_settings, settings
):
    settings.LLM_RETRY_BACKOFF = 0.02
    settings.LLM_RATE_LIMIT_WAIT = 0.3
    ernie_settings.script("error_object", error_code=336501, times=100)

    frames = await ask(player, "充值没到账怎么办", until=is_system_line)

    assert what_the_player_reads_after(frames)[0] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    escalated = await sync_to_async(ConversationEvent.objects.get)(kind="escalated")
    assert re.fullmatch(
        r"ERNIE error 336501: Rate limit reached for RPM: still rate-limited after \d+\.\d s "
        r"\(LLM_RATE_LIMIT_WAIT is 0\.3 s; the provider's quota may be too small\) \(code 336501\)",
        escalated.data["error"],
    )


async def test_an_answer_the_model_ended_without_a_word_is_asked_again_not_shown_empty(
    player, ernie_settings, settings
):
    settings.LLM_RETRY_BACKOFF = 0.01
    replies = iter([[], ["充值到账通常需要五分钟。"]])
    ernie_settings.configure(reply=lambda question: next(replies))

    assert await answer_read(player, "充值没到账怎么办") == "充值到账通常需要五分钟。"
    assert len(ernie_settings.requests) == 2


async def test_a_model_that_keeps_answering_with_nothing_hands_the_player_to_staff_who_read_why(
    player, ernie_settings, settings
):
    settings.LLM_RETRY_BACKOFF = 0.01
    ernie_settings.configure(reply=[])

    frames = await ask(player, "充值没到账怎么办", until=is_system_line)

    assert next(f for f in frames if is_end(f))["status"] == "failed"
    assert what_the_player_reads_after(frames)[0] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    escalated = await sync_to_async(ConversationEvent.objects.get)(kind="escalated")
    assert escalated.data["error"] == "ernie ended its answer without a word (code empty)"


async def test_an_upstream_that_hangs_fails_with_a_clear_message(player, ernie_settings, settings):
    settings.LLM_READ_TIMEOUT = 0.5
    settings.LLM_MAX_ATTEMPTS = 1
    ernie_settings.script("hang")

    frames = await ask(player, "充值没到账怎么办")

    end = frames[-1]
    assert end["status"] == "failed"
    assert end["error"] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    player_message = await sync_to_async(Message.objects.get)(sender="player")
    assert player_message.text == "充值没到账怎么办"  # the question is kept
    bot = await sync_to_async(Message.objects.get)(sender="bot")
    assert bot.status == "failed" and bot.error


async def test_an_input_flagged_by_ernie_is_replaced_and_left_out_of_the_next_request(player, ernie_settings):
    ernie_settings.script("need_clear_history")
    frames = await ask(player, "一个不安全的问题")
    replace = next(f for f in frames if f.get("type") == "replace")
    assert replace["text"] and frames[-1]["status"] == "done"

    ernie_settings.configure(reply=["您好！"])
    await ask(player, "充值没到账怎么办")
    sent = ernie_settings.requests[-1].body["messages"]
    assert sent == [{"role": "user", "content": "充值没到账怎么办"}]


async def test_a_question_sent_while_the_job_looks_for_one_after_its_answer_is_answered(
    player, ernie_settings, monkeypatch
):
    """A question from the player's other tab, on another process, waited for the answer, so its
    job looks for it as the answer ends. A question sent then from this tab is stored while the job
    looks (its socket, seeing the job busy, leaves it to the job); the job found the one that waited
    passed by it, and stopped: the player waited for good (seen about one run in three under load)."""
    import asyncio

    from chat import services
    from chat.streaming import jobs

    question_stored = asyncio.Event()
    looking = asyncio.Event()
    real_finish, real_start = jobs._finish, jobs._start

    def other_tabs_question(message_id: int) -> None:
        """Stored on the other tab's process while the answer streams: it waits for the answer."""
        conversation_id = Message.objects.get(pk=message_id).conversation_id
        waiting = services.player_message_receive(
            player=player, conversation_id=conversation_id, client_id="other-tab", text="在吗", with_answer=True
        )
        assert waiting.waits

    async def finish_after_the_other_tabs_question(**end):
        if not looking.is_set():
            await sync_to_async(other_tabs_question)(end["message_id"])
        return await real_finish(**end)

    async def start_after_the_question(*args, **kwargs):
        looking.set()
        await asyncio.wait_for(question_stored.wait(), 10)  # the race, made to happen every time
        return await real_start(*args, **kwargs)

    monkeypatch.setattr(jobs, "_finish", finish_after_the_other_tabs_question)
    monkeypatch.setattr(jobs, "_start", start_after_the_question)
    ernie_settings.configure(reply=["您好！"])
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    await sock.receive_until(is_end, timeout=15)
    await asyncio.wait_for(looking.wait(), 10)
    client_id = await sock.say("充值没到账怎么办")
    frames = await sock.receive_until(lambda f: f.get("type") == "ack")  # stored, and left to the busy job
    question_stored.set()
    frames += await sock.receive_until(is_end, timeout=15)
    await sock.close()

    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    assert answer_text(frames, bot["id"]) == "您好！"
    assert frames[-1]["status"] == "done"
    answer = await sync_to_async(Message.objects.select_related("reply_to").get)(pk=bot["id"])
    assert answer.reply_to.client_id == client_id  # the newest question, the one just sent


async def test_a_crash_before_the_answer_starts_ends_it_failed_and_keeps_the_question(player, monkeypatch):
    def broken(*args):
        raise RuntimeError("knowledge base unreadable")

    monkeypatch.setattr("agents.pipeline.prepare.retrieval.gather", broken)

    frames = await ask(player, "充值没到账怎么办")

    end = frames[-1]
    assert end["status"] == "failed"
    assert end["error"] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    asked_and_answered = Message.objects.filter(conversation__player=player, sender__in=["player", "bot"])
    stored = await sync_to_async(list)(asked_and_answered.order_by("seq"))
    assert [(m.sender, m.text) for m in stored] == [("player", "充值没到账怎么办"), ("bot", "")]
    assert stored[1].status == "failed" and "RuntimeError" in stored[1].error  # what staff see


async def test_an_answer_ernies_content_filter_cut_short_is_not_passed_off_as_done(player, ernie_settings):
    ernie_settings.configure(reply=["充值到账通常需要五分钟。", "如果超过三十分钟，"])
    ernie_settings.script("content_filter", after=1)

    frames = await ask(player, "充值没到账怎么办")

    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    end = frames[-1]
    assert answer_text(frames, bot["id"]) == "充值到账通常需要五分钟。"
    assert end["status"] == "failed"
    assert end["error"] == "由于我们这边的问题，回答被中断了，您的对话已转给人工客服。"
    stored = await sync_to_async(Message.objects.get)(pk=bot["id"])
    assert stored.status == "failed" and "content_filter" in stored.error  # what staff see
    assert len(ernie_settings.requests) == 1  # the same question would be filtered again


@pytest.fixture
async def openai_upstream(settings):
    reply = ["Top-ups usually arrive within five minutes. ", "If it takes longer"]
    server = await FakeOpenAIServer(reply=reply).start()
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = server.base_url
    settings.OPENAI_API_KEY = server.api_key
    reset_providers()
    yield server
    await close_session()
    await server.stop()
    reset_providers()


async def test_an_answer_an_openai_compatible_filter_cut_short_is_not_passed_off_as_done(demo_kb, openai_upstream):
    openai_upstream.script("content_filter")
    player = await sync_to_async(Player.objects.create)(language="en")

    frames = await ask(player, "my top-up didn't arrive", until=is_system_line)

    assert next(f for f in frames if is_end(f))["status"] == "failed"
    assert what_the_player_reads_after(frames) == [
        "The answer was cut off by a problem on our side, so we've passed your chat to our support team.",
        "No support agent is online right now. Leave your message here and you can close this page: "
        "the next agent's reply will be waiting in this chat when you open it again in this browser. "
        "We can't notify you, so please check back later.",
    ]
    stored = await sync_to_async(Message.objects.get)(sender="bot")
    assert stored.text == "Top-ups usually arrive within five minutes. If it takes longer"
    assert stored.status == "failed" and "content_filter" in stored.error


async def test_a_chat_ernie_flags_for_an_earlier_round_goes_on_without_that_history(player, ernie_settings):
    ernie_settings.configure(reply=["您好！"])
    sock = PlayerSocket(player.pk)
    await sock.connect()
    for question in ["充值没到账怎么办", "我昨天在群里看到的那个外挂链接", "那我的星晶呢"]:
        if question == "那我的星晶呢":
            # The second round made the third one unsafe to answer (ban_round 2, not -1: this question).
            ernie_settings.script("need_clear_history", ban_round=2)
        await sock.say(question)
        frames = await sock.receive_until(is_end, timeout=15)
    assert next(f for f in frames if f.get("type") == "replace")["text"]

    await sock.say("登录不了怎么办")
    frames = await sock.receive_until(is_end, timeout=15)
    await sock.close()

    assert frames[-1]["status"] == "done" and not any(f.get("type") == "replace" for f in frames)
    # With the flagged round still in it, ERNIE would refuse this question, and every next one, too.
    assert ernie_settings.requests[-1].body["messages"] == [{"role": "user", "content": "登录不了怎么办"}]


async def test_an_upstream_that_stays_silent_fails_after_one_read_timeout_not_one_per_attempt(
    player, ernie_settings, settings
):
    settings.LLM_READ_TIMEOUT = 1.0
    settings.LLM_RETRY_BACKOFF = 0.01
    ernie_settings.script("hang", times=3)

    started = time.monotonic()
    frames = await ask(player, "充值没到账怎么办")
    waited = time.monotonic() - started

    assert frames[-1]["status"] == "failed"
    assert frames[-1]["error"] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"
    # LLM_READ_TIMEOUT is how long the player looks at the typing dots, not three times that.
    assert waited < 2.0
    assert len(ernie_settings.requests) == 1


async def test_an_answer_that_failed_before_its_first_word_lists_no_sources(player, ernie_settings):
    ernie_settings.script("error_object", error_code=17)  # the daily quota: no retry helps

    frames = await ask(player, "充值没到账怎么办")

    assert frames[-1]["status"] == "failed" and frames[-1]["n"] == 0
    assert "sources" not in frames[-1]
    stored = await sync_to_async(Message.objects.get)(sender="bot")
    assert not stored.meta.get("sources")  # nor after a reload


async def test_an_answer_that_reached_the_models_output_limit_is_read_whole(player, ernie_settings):
    def model(question: str) -> list[str]:
        # Asked to go on, the model goes on where it stopped.
        return ["，请联系人工客服。"] if question == "继续" else ["充值到账通常需要五分钟。", "超过三十分钟"]

    ernie_settings.configure(reply=model)
    ernie_settings.script("truncated", after=2)

    frames = await ask(player, "充值没到账怎么办")

    bot = next(f["message"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")
    assert frames[-1]["status"] == "done"
    assert answer_text(frames, bot["id"]) == "充值到账通常需要五分钟。超过三十分钟，请联系人工客服。"
    going_on = ernie_settings.requests[-1].body["messages"][-2:]
    assert going_on == [
        {"role": "assistant", "content": "充值到账通常需要五分钟。超过三十分钟"},
        {"role": "user", "content": "继续"},
    ]


async def test_a_player_whose_answer_failed_with_nobody_online_is_told_to_leave_a_message_not_to_ask_again(
    player, ernie_settings
):
    ernie_settings.script("error_object", error_code=17)  # the daily quota: no retry helps

    frames = await ask(player, "充值没到账怎么办", until=is_system_line)

    assert what_the_player_reads_after(frames) == [
        "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。",
        "目前没有在线的人工客服。请在这里留言，留言后可以关闭此页面："
        "客服上线后的回复会保留在这个对话里，用这个浏览器再次打开即可看到。我们无法另行通知您，请稍后回来查看。",
    ]
    assert next(f for f in frames if f.get("type") == "state")["state"] == "waiting"
    # After a reload the answer says the same.
    stored = await sync_to_async(Message.objects.get)(sender="bot")
    assert stored.meta["player_error"] == "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。"


async def test_a_failed_answer_whose_chat_could_not_be_queued_still_ends_and_says_to_try_again(
    player, ernie_settings, monkeypatch
):
    async def database_away(**kwargs):
        raise ConnectionError("the database went away")

    monkeypatch.setattr("chat.staff_notify._escalate", database_away)
    ernie_settings.script("error_object", error_code=17)

    frames = await ask(player, "充值没到账怎么办")

    assert frames[-1]["status"] == "failed"
    assert frames[-1]["error"] == "抱歉，智能助手暂时无法使用。请稍后重试，或转人工客服。"


@pytest.fixture
def alice_online(db):
    alice = make_user("alice", "agent")
    presence.presence_connect(user=alice)
    return alice


@pytest.mark.parametrize(
    ("page", "question", "reads"),
    [
        (
            "en",
            "充值没到账怎么办",
            ["抱歉，智能助手暂时无法使用，您的对话已转给人工客服。", "您已进入人工客服排队，客服很快就来。"],
        ),
        (
            "zh-hans",
            "my top-up didn't arrive",
            [
                "Sorry, the assistant is unavailable right now, so we've passed your chat to our support team.",
                "You are in the queue for a support agent. We'll be with you soon.",
            ],
        ),
    ],
)
async def test_a_player_writing_in_another_language_than_the_pages_reads_the_failure_and_the_queue_in_theirs(
    demo_kb, ernie_settings, alice_online, page, question, reads
):
    # The bot answers in the language the player writes; what they read under its failed answer,
    # the notice and the queue's line, is one message in that language, not two.
    player = await sync_to_async(Player.objects.create)(language=page)
    ernie_settings.script("error_object", error_code=17)

    frames = await ask(player, question, until=is_system_line)

    assert what_the_player_reads_after(frames) == reads


async def test_a_player_whose_answer_failed_with_an_agent_online_is_told_they_are_in_the_queue(
    player, ernie_settings, alice_online
):
    ernie_settings.script("error_object", error_code=17)

    frames = await ask(player, "充值没到账怎么办", until=is_system_line)

    assert what_the_player_reads_after(frames) == [
        "抱歉，智能助手暂时无法使用，您的对话已转给人工客服。",
        "您已进入人工客服排队，客服很快就来。",
    ]


class DatabaseAway:
    """The answer's end refused by the database `times` times, as a lost connection or a failover
    refuses it; `after_commit`: each refused attempt had stored it all the same (the connection
    was lost after its commit)."""

    def __init__(self, monkeypatch, *, times: int, after_commit: bool = False) -> None:
        from chat.streaming import jobs

        self.real, self.left, self.after_commit, self.tries = jobs._finish, times, after_commit, 0
        monkeypatch.setattr(jobs, "_finish", self)
        monkeypatch.setattr(jobs, "END_RETRY_DELAYS", (0.05,), raising=False)

    async def __call__(self, **end):
        from django.db import OperationalError

        self.tries += 1
        if self.left == 0:
            return await self.real(**end)
        self.left -= 1
        if self.after_commit:
            await self.real(**end)
        raise OperationalError("server closed the connection unexpectedly")


def other_tabs_question(player: Player) -> int:
    """The player's other tab, on another process, asks while the answer streams: it waits."""
    from chat import services

    conversation = services.conversation_current(player=player)
    waiting = services.player_message_receive(
        player=player, conversation_id=conversation.pk, client_id="other-tab", text="充值还是没到账", with_answer=True
    )
    assert waiting.waits
    return waiting.message.pk


async def both_answers(player: Player, monkeypatch) -> tuple[list[dict], int]:
    """Every frame the player's tab gets as its question's answer ends and the other tab's is
    answered after it, and that question's id."""
    import asyncio

    from chat.streaming import jobs

    asked = asyncio.Future()
    real_stream = jobs.AnswerJob._stream

    async def stream_then_the_other_tab_asks(job, *args):
        await real_stream(job, *args)
        if not asked.done():
            asked.set_result(await sync_to_async(other_tabs_question)(player))

    monkeypatch.setattr(jobs.AnswerJob, "_stream", stream_then_the_other_tab_asks)
    sock = PlayerSocket(player.pk)
    await sock.connect()
    await sock.say("充值没到账怎么办")
    frames = await sock.receive_until(is_end, timeout=15)
    frames += await sock.receive_until(is_end, timeout=15)
    await sock.close()
    return frames, await asked


def bot_answers(frames: list[dict]) -> list[tuple[int, str, str]]:
    """Each bot answer the tab showed: its id, its text and how it ended."""
    ends = {f["id"]: f["status"] for f in frames if is_end(f)}
    shown = [f["message"]["id"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot"]
    return [(pk, answer_text(frames, pk), ends.get(pk)) for pk in shown]


@pytest.mark.parametrize("after_commit", [False, True], ids=["refused", "stored-then-connection-lost"])
async def test_an_answer_whose_end_the_database_refused_ends_when_it_is_back_and_the_question_that_waited_is_answered(
    player, ernie_settings, monkeypatch, after_commit
):
    """Its row stayed `streaming` and the chat's answer claim held for ~7 minutes, until the sweep:
    the answer never ended on the player's screen, and their other tab's question, which waited
    for it, went to staff unanswered."""
    ernie_settings.configure(reply=["充值到账通常需要五分钟。"])
    refusals = DatabaseAway(monkeypatch, times=2, after_commit=after_commit)

    frames, waited = await both_answers(player, monkeypatch)

    first, second = bot_answers(frames)
    assert first[1:] == ("充值到账通常需要五分钟。", "done")  # ended once, as it streamed
    assert second[1:] == ("充值到账通常需要五分钟。", "done")
    assert sum(is_end(f) for f in frames) == 2 and refusals.tries >= 3
    stored = await sync_to_async(Message.objects.get)(pk=second[0])
    assert stored.reply_to_id == waited
    chat = await sync_to_async(lambda: stored.conversation)()
    assert (chat.state, chat.answer_claim) == ("bot", None)
