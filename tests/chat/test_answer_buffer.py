"""The Redis answer buffer is written behind the stream (chat/streaming/buffer.py).

A resuming client must never miss text for good: a resume in the job's process
reads the job's own copy, Redis is flushed before a delta goes to another
process, and the `end` frame's `n` shows a client that resumed from a Redis
copy that was behind how much it still lacks.

One event loop stands for one daphne process. The answer runs on the fake ERNIE
server, over real HTTP, with the Redis channel layer and answer buffer.
"""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers

from chat import resume
from chat.groups import conversation_group
from chat.models import Message
from chat.streaming import buffer as buffer_module
from chat.streaming.buffer import RedisAnswerBuffer, get_buffer
from chat.streaming.fanout import Fanout, fanout
from chat.streaming.jobs import registry
from chat.streaming.redis_client import redis_client
from tests.chat.process_cleanup import close_process
from tests.chat.socket_client import PlayerSocket, answer_text, is_delta
from tests.fake_ernie_fixtures import use_fake_ernie
from tests.services import require_redis

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "充值没到账怎么办"
CHUNKS = [f"第{i}句：充值未到账时请先确认订单状态。" for i in range(1, 13)]


def is_end(frame: dict) -> bool:
    return frame.get("type") == "end"


def bot_id(frames: list[dict]) -> int:
    return next(f["message"]["id"] for f in frames if f.get("type") == "message" and f["message"]["sender"] == "bot")


async def redis_copy(message_id: int) -> str:
    """What a resume on another process reads: the Redis string, nothing local."""
    raw = await redis_client().get(RedisAnswerBuffer.key(message_id))
    return "" if raw is None else raw.decode()


@pytest.fixture
def on_redis(settings, fake_ernie_thread, demo_kb):
    """The production path's layer and answer buffer; flushes only when the design requires them."""
    url = require_redis()
    channel_layers.backends.clear()
    settings.REDIS_URL = url
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": f"csbot-buffer-{uuid.uuid4().hex[:8]}"},
        }
    }
    settings.ANSWER_BUFFER = "chat.streaming.buffer.RedisAnswerBuffer"
    settings.ANSWER_BUFFER_FLUSH_SECONDS = 60  # no interval flush within these short answers
    settings.LLM_MAX_ATTEMPTS = 1
    fake_ernie_thread.configure(reply=CHUNKS, delay=0.03)
    use_fake_ernie(settings, fake_ernie_thread)
    buffer_module.reset_buffer()
    yield
    channel_layers.backends.clear()


async def finished_answer(message_id: int) -> Message:
    for task in list(registry().tasks.values()):
        await asyncio.wait_for(task, 10)
    return await sync_to_async(Message.objects.get)(pk=message_id)


async def test_with_nobody_on_another_process_the_answer_streams_without_writing_redis(on_redis):
    player = PlayerSocket((await sync_to_async(_player)()).pk)
    await player.connect()
    await player.say(QUESTION)
    frames, redis_during = [], []
    while not frames or not is_end(frames[-1]):
        frames.append(await player.receive())
        if is_delta(frames[-1]):
            redis_during.append(await redis_copy(frames[-1]["i"]))
    await player.close()
    answer = bot_id(frames)
    stored = await finished_answer(answer)

    assert len(redis_during) == len(CHUNKS)
    assert set(redis_during) == {""}  # not one APPEND while it streamed
    assert answer_text(frames, answer) == stored.text == "".join(CHUNKS)
    assert frames[-1]["n"] == len(stored.text)  # the end says how long the answer is
    # Finished, and never flushed: still nothing in Redis. A resume elsewhere reads the
    # finished row, and one that read the row just before is sent there by the end's `n`.
    assert await redis_copy(answer) == ""
    await close_process()


class ResumingHere:
    """A socket of the job's process that, at every delta it gets, asks what a resume would send."""

    def __init__(self, conversation_id: int, message_id: int) -> None:
        self.conversation_id, self.message_id = conversation_id, message_id
        self.seen: list[tuple[int, str, str]] = []  # (where the delta ends, resumed text, Redis copy)

    async def send(self, text_data=None, bytes_data=None, close=False):
        frame = json.loads(text_data)
        if not is_delta(frame):
            return
        reply = [json.loads(f) for f in await resume.frames_for(self.conversation_id, 2, {self.message_id: 0})]
        resumed = next((f["d"] for f in reply if is_delta(f)), "")
        self.seen.append((frame["o"] + len(frame["d"]), resumed, await redis_copy(self.message_id)))


async def test_a_resume_in_the_same_process_mid_answer_gets_exactly_the_text_so_far(on_redis):
    player = PlayerSocket((await sync_to_async(_player)()).pk)
    welcome = await player.connect()
    await player.say(QUESTION)
    frames = await player.receive_until(lambda f: f.get("type") == "message" and f["message"]["sender"] == "bot")
    here = ResumingHere(welcome["conversation"]["id"], bot_id(frames))
    await fanout().join(conversation_group(here.conversation_id), here)
    frames += await player.receive_until(is_end)
    await player.close()
    await fanout().leave(conversation_group(here.conversation_id), here)

    stored = await finished_answer(here.message_id)
    assert len(here.seen) >= 3
    for ends_at, resumed, in_redis in here.seen:
        # Exactly what the screens hold at that delta: not a character short, so the next delta joins on...
        assert resumed == stored.text[:ends_at]
        assert in_redis == ""  # ... and not from Redis, which has nothing yet
    assert answer_text(frames, here.message_id) == stored.text
    await close_process()


class OnAnotherProcess:
    """A socket of another process: what Redis held when each delta reached it."""

    def __init__(self) -> None:
        self.got: list[tuple[int, str]] = []  # (text the delta ends at, what another process's resume reads)
        self.elsewhere_buffer = RedisAnswerBuffer()  # no local copy: reads Redis, as that process does

    async def send(self, text_data=None, bytes_data=None, close=False):
        frame = json.loads(text_data)
        if is_delta(frame):
            held = await self.elsewhere_buffer.get(frame["i"])
            self.got.append((frame["o"] + len(frame["d"]), held))


async def test_a_follower_on_another_process_never_gets_a_delta_that_a_resume_there_could_not_read(on_redis):
    player = PlayerSocket((await sync_to_async(_player)()).pk)
    welcome = await player.connect()
    other_process, agent = Fanout(), OnAnotherProcess()
    group = conversation_group(welcome["conversation"]["id"])
    await player.say(QUESTION)
    frames = await player.receive_until(lambda f: is_delta(f) and f["o"] > 0)
    await other_process.join(group, agent)  # an agent starts watching mid-answer, elsewhere
    frames += await player.receive_until(is_end)
    await player.close()
    answer = bot_id(frames)
    stored = await finished_answer(answer)
    await asyncio.sleep(0.1)  # the last relayed deltas
    await other_process.leave(group, agent)

    assert len(agent.got) >= 3, "the agent should have watched most of the answer"
    for ends_at, held in agent.got:
        assert len(held) >= ends_at  # a resume there would have read all of it
        assert stored.text.startswith(held)
    assert answer_text(frames, answer) == stored.text and frames[-1]["n"] == len(stored.text)
    await close_process(other_process)


async def test_a_resume_after_the_end_also_says_how_long_the_answer_is(on_redis):
    player = PlayerSocket((await sync_to_async(_player)()).pk)
    await player.connect()
    await player.say(QUESTION)
    frames = await player.receive_until(is_end)
    answer = bot_id(frames)
    await player.send({"type": "resume", "after_seq": 2, "streams": {str(answer): 5}})
    resumed = await player.receive_until(lambda f: f.get("type") == "resumed")
    await player.close()

    stored = await finished_answer(answer)
    delta, end = [f for f in resumed if is_delta(f) or is_end(f)]
    assert delta["o"] == 5 and delta["d"] == stored.text[5:]
    assert end["n"] == len(stored.text) and end["status"] == "done"
    await close_process()


async def test_with_nobody_elsewhere_redis_still_catches_up_every_flush_interval(settings):
    """A reader on another process is at most about ANSWER_BUFFER_FLUSH_SECONDS behind, and a
    delta never waits for Redis on its way to the player."""
    settings.REDIS_URL = require_redis()
    settings.ANSWER_BUFFER_FLUSH_SECONDS = 0.2
    buffer = RedisAnswerBuffer()
    message_id = 10**9 + uuid.uuid4().int % 10**8  # no real answer has it

    await buffer.start(message_id)
    await buffer.append(message_id, "请先")
    await buffer.append(message_id, "确认")
    assert await redis_copy(message_id) == ""  # at once: only here
    assert await buffer.get(message_id) == "请先确认"

    await asyncio.sleep(0.3)
    assert await redis_copy(message_id) == "请先确认"  # an interval later: written
    await buffer.append(message_id, "订单")
    await asyncio.sleep(0.3)
    assert await redis_copy(message_id) == "请先确认订单"  # the rest, after the first (in bytes: not 6 chars in)
    await buffer.append(message_id, "状态。")

    await buffer.flush(message_id)  # what the job does before a delta leaves the process
    assert await redis_copy(message_id) == "请先确认订单状态。"
    await buffer.finish(message_id)
    assert await buffer.get(message_id) == "请先确认订单状态。"  # now from Redis, for its last minute
    assert 0 < await redis_client().ttl(RedisAnswerBuffer.key(message_id)) <= 60
    await redis_client().delete(RedisAnswerBuffer.key(message_id))
    await redis_client().aclose()


async def test_answers_that_start_together_are_written_together_and_whole(settings):
    """Hundreds of answers flushed in one pipeline per interval, while each is also flushed
    for deltas that leave the process: every Redis copy ends exactly as its answer."""
    settings.REDIS_URL = require_redis()
    settings.ANSWER_BUFFER_FLUSH_SECONDS = 0.01
    buffer = RedisAnswerBuffer()
    base = 10**9 + uuid.uuid4().int % 10**8
    answers = range(base, base + 300)
    for message_id in answers:
        await buffer.start(message_id)
    for part in range(20):
        for message_id in answers:
            await buffer.append(message_id, f"第{part}句。")
            if (message_id + part) % 7 == 0:
                asyncio.ensure_future(buffer.flush(message_id))  # a delta crossing, beside the interval's
        await asyncio.sleep(0.004)
    for message_id in answers:
        await buffer.flush(message_id)

    expected = "".join(f"第{part}句。" for part in range(20))
    copies = await redis_client().mget([RedisAnswerBuffer.key(m) for m in answers])
    assert {copy.decode() for copy in copies} == {expected}
    for message_id in answers:
        await buffer.finish(message_id)
    await redis_client().delete(*[RedisAnswerBuffer.key(m) for m in answers])
    await redis_client().aclose()


async def test_the_memory_buffer_of_the_embedded_default_has_the_same_interface():
    buffer = get_buffer()
    assert isinstance(buffer, buffer_module.MemoryAnswerBuffer)
    await buffer.start(1)
    await buffer.append(1, "abc")
    await buffer.flush(1)
    await buffer.append(1, "de")
    assert await buffer.get(1) == "abcde"
    await buffer.finish(1)
    assert await buffer.get(1) == "abcde"


def _player():
    from chat.models import Player

    return Player.objects.create(language="zh-hans")
