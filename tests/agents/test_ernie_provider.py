"""The ERNIE provider against the fake ERNIE server, over real loopback sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from agents.fake_ernie import count_tokens, default_reply
from agents.providers import get_provider, http
from agents.providers.base import ChatMessage, ChatRequest, Delta, Finish, ProviderError, SafetyBlocked
from agents.providers.ernie import ErnieProvider
from agents.providers.retry import stream_with_retry
from tests.fake_ernie_fixtures import use_fake_ernie

QUESTION = "充值没到账怎么办"
ANSWER = "".join(default_reply(QUESTION))


@pytest.fixture
def ernie(settings, fake_ernie) -> ErnieProvider:
    use_fake_ernie(settings, fake_ernie)
    settings.LLM_READ_TIMEOUT = 5.0
    settings.LLM_RETRY_BACKOFF = 0.0
    return get_provider("ernie")


def ask(question: str = QUESTION, history: list[ChatMessage] | None = None, **kwargs) -> ChatRequest:
    messages = [*(history or []), ChatMessage("user", question)]
    return ChatRequest(system="你是《星落传说》的客服助手。", messages=messages, **kwargs)


async def collect(stream) -> tuple[list, ProviderError | None]:
    items: list = []
    try:
        async for item in stream:
            items.append(item)
    except ProviderError as exc:
        return items, exc
    return items, None


def text_of(items: list) -> str:
    return "".join(item.text for item in items if isinstance(item, Delta))


async def test_a_full_stream_concatenates_the_deltas_in_order_and_ends_with_usage(ernie, fake_ernie):
    items, error = await collect(ernie.stream(ask(user_id="player-42", temperature=0.7)))

    assert error is None
    assert all(isinstance(item, Delta) for item in items[:-1])
    assert text_of(items) == ANSWER
    assert items[-1] == Finish(
        finish_reason="normal",
        prompt_tokens=count_tokens("你是《星落传说》的客服助手。" + QUESTION),
        completion_tokens=count_tokens(ANSWER),
        truncated=False,
    )
    [request] = fake_ernie.requests
    assert request.path == "/rpc/2.0/ai_custom/v1/wenxinworkshop/chat/completions_pro"
    assert request.body == {
        "messages": [{"role": "user", "content": QUESTION}],
        "system": "你是《星落传说》的客服助手。",
        "stream": True,
        "user_id": "player-42",
        "temperature": 0.7,
    }


async def test_chunks_that_arrive_apart_are_relayed_one_by_one_as_they_arrive(ernie, fake_ernie):
    fake_ernie.configure(delay=0.05)

    items, error = await collect(ernie.stream(ask()))

    assert error is None
    assert [item.text for item in items[:-1]] == default_reply(QUESTION)


async def test_a_chinese_character_split_across_packets_arrives_whole(ernie, fake_ernie):
    fake_ernie.configure(split_utf8=True)

    items, error = await collect(ernie.stream(ask()))

    assert error is None
    assert text_of(items) == ANSWER
    assert "\ufffd" not in text_of(items)


async def test_crlf_line_endings_split_between_packets_are_read(ernie, fake_ernie):
    fake_ernie.configure(line_ending="\r\n", split_crlf=True)

    items, error = await collect(ernie.stream(ask()))

    assert error is None
    assert text_of(items) == ANSWER
    assert isinstance(items[-1], Finish)


async def test_a_stream_ended_by_closing_the_connection_is_read(ernie, fake_ernie):
    fake_ernie.configure(chunked=False)

    items, error = await collect(ernie.stream(ask()))

    assert error is None
    assert text_of(items) == ANSWER


async def test_the_token_is_fetched_once_for_two_chats_on_one_connection(ernie, fake_ernie):
    for _ in range(2):
        items, error = await collect(ernie.stream(ask()))
        assert error is None and text_of(items) == ANSWER

    assert len(fake_ernie.token_requests) == 1
    assert len(fake_ernie.requests) == 2
    # The connection went back to the pool after each answer.
    assert fake_ernie.connections == 1


async def test_an_expired_token_is_replaced_once_and_the_chat_succeeds(ernie, fake_ernie):
    await collect(ernie.stream(ask()))
    fake_ernie.script("expired_token")

    items, error = await collect(ernie.stream(ask()))

    assert error is None and text_of(items) == ANSWER
    assert len(fake_ernie.token_requests) == 2
    tokens = [request.query["access_token"] for request in fake_ernie.requests]
    assert tokens[0] == tokens[1] != tokens[2]


async def test_a_token_invalidated_upstream_is_replaced(ernie, fake_ernie):
    await collect(ernie.stream(ask()))
    fake_ernie.invalidate_tokens()

    items, error = await collect(ernie.stream(ask()))

    assert error is None and text_of(items) == ANSWER
    assert len(fake_ernie.token_requests) == 2


async def test_a_token_rejected_twice_in_a_row_is_an_error(ernie, fake_ernie):
    fake_ernie.script("expired_token", times=2)

    items, error = await collect(ernie.stream(ask()))

    assert items == []
    assert error.code == 111 and not error.retryable
    assert len(fake_ernie.token_requests) == 2


async def test_a_wrong_secret_key_is_an_invalid_client_that_no_retry_can_fix(ernie, fake_ernie, settings):
    settings.ERNIE_SECRET_KEY = "not-the-secret"

    _, error = await collect(stream_with_retry(ernie, ask()))

    assert error.code == "invalid_client" and not error.retryable
    assert "Client authentication failed" in str(error)
    assert len(fake_ernie.token_requests) == 1
    assert fake_ernie.requests == []


async def test_missing_keys_say_which_settings_to_set(ernie, settings):
    settings.ERNIE_API_KEY = ""

    _, error = await collect(ernie.stream(ask()))

    assert error.code == "not_configured" and not error.retryable
    assert "ERNIE_API_KEY" in str(error)


async def test_a_qps_limit_is_retried_and_then_succeeds(ernie, fake_ernie):
    fake_ernie.script("error_object", error_code=18)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert error is None and text_of(items) == ANSWER
    assert len(fake_ernie.requests) == 2


async def test_the_daily_limit_17_is_raised_at_once(ernie, fake_ernie):
    fake_ernie.script("error_object", error_code=17)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert items == []
    assert error.code == 17 and not error.retryable
    assert "daily request limit" in str(error)
    assert len(fake_ernie.requests) == 1


async def test_retries_stop_after_the_configured_attempts(ernie, fake_ernie, settings):
    settings.LLM_MAX_ATTEMPTS = 3
    fake_ernie.script("error_object", error_code=336100, times=5)  # server high load

    _, error = await collect(stream_with_retry(ernie, ask()))

    assert error.code == 336100 and error.retryable
    assert len(fake_ernie.requests) == 3


@pytest.mark.parametrize("code", [4, 18, 336501, 336502])
async def test_a_quota_that_refreshes_is_waited_out_beyond_the_configured_attempts(ernie, fake_ernie, settings, code):
    settings.LLM_MAX_ATTEMPTS = 3
    fake_ernie.script("error_object", error_code=code, times=5)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert error is None and text_of(items) == ANSWER
    assert len(fake_ernie.requests) == 6


async def test_an_error_after_the_first_token_keeps_that_token_and_is_not_retried(ernie, fake_ernie):
    fake_ernie.script("error_after_first_token", error_code=336100)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert items == [Delta(default_reply(QUESTION)[0])]
    assert error.code == 336100
    assert len(fake_ernie.requests) == 1


async def test_a_malformed_line_raises_after_the_good_deltas(ernie, fake_ernie):
    fake_ernie.script("malformed_line", after=2)

    items, error = await collect(ernie.stream(ask()))

    assert text_of(items) == "".join(default_reply(QUESTION)[:2])
    assert error.code == "malformed" and not error.retryable


async def test_a_silent_upstream_times_out_within_the_read_timeout(ernie, fake_ernie, settings):
    settings.LLM_READ_TIMEOUT = 0.3
    fake_ernie.script("hang")

    started = time.monotonic()
    items, error = await collect(ernie.stream(ask()))

    assert items == []
    assert error.code == "timeout" and error.retryable
    assert time.monotonic() - started < 1.5


async def test_an_upstream_that_goes_silent_mid_answer_times_out_after_its_text(ernie, fake_ernie, settings):
    settings.LLM_READ_TIMEOUT = 0.3
    fake_ernie.script("hang", after=1)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert items == [Delta(default_reply(QUESTION)[0])]
    assert error.code == "timeout"
    assert len(fake_ernie.requests) == 1


async def test_a_gateway_500_is_retryable_and_names_the_bce_error(ernie, fake_ernie):
    fake_ernie.script("http_500")

    _, error = await collect(ernie.stream(ask()))

    assert error.retryable and error.code == "InternalError"
    assert "HTTP 500" in str(error)

    fake_ernie.script("http_500")
    items, error = await collect(stream_with_retry(ernie, ask()))
    assert error is None and text_of(items) == ANSWER


async def test_a_connection_dropped_mid_stream_is_an_error_after_the_text_so_far(ernie, fake_ernie):
    fake_ernie.script("drop_mid_stream", after=2)

    items, error = await collect(ernie.stream(ask()))

    assert text_of(items) == "".join(default_reply(QUESTION)[:2])
    assert error.retryable and error.code in ("connection", "incomplete")


async def test_a_flagged_question_raises_safety_blocked_and_shows_nothing(ernie, fake_ernie):
    fake_ernie.script("need_clear_history", ban_round=-1)

    items, error = await collect(stream_with_retry(ernie, ask()))

    assert items == []
    assert isinstance(error, SafetyBlocked) and error.ban_round == -1
    assert len(fake_ernie.requests) == 1


async def test_cancelling_the_consumer_closes_the_upstream_connection_at_once(ernie, fake_ernie):
    fake_ernie.configure(delay=1.0)
    first_delta = asyncio.Event()

    async def consume():
        async for item in stream_with_retry(ernie, ask()):
            if isinstance(item, Delta):
                first_delta.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_delta.wait(), 5)
    task.cancel()
    cancelled_at = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        await task

    while fake_ernie.client_disconnects == 0 and time.monotonic() - cancelled_at < 2:
        await asyncio.sleep(0.01)
    assert fake_ernie.client_disconnects == 1
    # Well before the next chunk was due: the server did not find out by writing.
    assert time.monotonic() - cancelled_at < 0.5


async def test_closing_the_stream_early_closes_the_upstream_connection_at_once(ernie, fake_ernie):
    fake_ernie.configure(delay=1.0)
    stream = stream_with_retry(ernie, ask())

    assert isinstance(await anext(stream), Delta)
    await stream.aclose()

    await asyncio.sleep(0.2)
    assert fake_ernie.client_disconnects == 1


async def test_before_attempt_is_awaited_before_every_attempt(ernie, fake_ernie):
    fake_ernie.script("error_object", error_code=336501, times=2)
    seen: list[int] = []

    async def before_attempt():
        seen.append(len(fake_ernie.requests))

    items, error = await collect(stream_with_retry(ernie, ask(), attempts=3, before_attempt=before_attempt))

    assert error is None and text_of(items) == ANSWER
    assert seen == [0, 1, 2]


async def test_an_exception_from_before_attempt_stops_before_any_request(ernie, fake_ernie):
    class TakenOver(Exception):
        pass

    async def before_attempt():
        raise TakenOver

    with pytest.raises(TakenOver):
        await collect(stream_with_retry(ernie, ask(), before_attempt=before_attempt))
    assert fake_ernie.requests == []


async def test_an_untidy_history_is_reshaped_into_what_ernie_accepts(ernie, fake_ernie):
    history = [ChatMessage("assistant", "欢迎来到星落传说！"), ChatMessage("user", "你好"), ChatMessage("user", "在吗")]

    _, error = await collect(ernie.stream(ask(history=history)))

    assert error is None  # the fake answers 336003 to anything ERNIE would reject
    assert fake_ernie.requests[0].body["messages"] == [{"role": "user", "content": f"你好\n在吗\n{QUESTION}"}]


async def test_a_long_conversation_is_trimmed_under_ernies_size_limit(ernie, fake_ernie, settings):
    settings.LLM_HISTORY_CHARS = 50_000
    history = [ChatMessage("user" if i % 2 == 0 else "assistant", "长" * 3000) for i in range(10)]
    request = ask(history=history)
    request.system = "系" * 5000

    _, error = await collect(ernie.stream(request))

    assert error is None
    body = fake_ernie.requests[0].body
    assert len(body["system"]) + sum(len(m["content"]) for m in body["messages"]) <= 20_000
    assert len(body["messages"]) % 2 == 1
    assert body["messages"][-1] == {"role": "user", "content": QUESTION}


async def test_a_zero_temperature_is_raised_into_ernies_range(ernie, fake_ernie):
    _, error = await collect(ernie.stream(ask(temperature=0.0)))

    assert error is None
    assert 0 < fake_ernie.requests[0].body["temperature"] <= 0.01


async def test_the_fake_in_its_own_thread_serves_the_provider_too(ernie_settings):
    ernie_settings.configure(split_utf8=True)

    items, error = await collect(get_provider().stream(ask()))

    assert error is None and text_of(items) == ANSWER
    assert len(ernie_settings.requests) == 1


def test_one_provider_serves_one_event_loop_after_another(ernie_settings):
    """Celery tasks and commands each run their own loop; the token outlives them."""
    provider = get_provider()

    for _ in range(2):
        items, error = asyncio.run(collect(provider.stream(ask())))
        assert error is None and text_of(items) == ANSWER

    assert len(ernie_settings.token_requests) == 1
    # Each loop had its own pool, closed with the loop (asyncio.run's shutdown_asyncgens).
    assert ernie_settings.connections == 2
    assert not [loop for loop in http._sessions if loop.is_closed()]


async def test_a_chunk_spread_over_several_data_lines_is_read_whole(ernie, fake_ernie):
    # One event's `data:` lines are one document, joined with "\n" (the SSE spec).
    fake_ernie.configure(multiline_data=True)

    items, error = await collect(ernie.stream(ask()))

    assert error is None
    assert text_of(items) == ANSWER
    assert isinstance(items[-1], Finish) and items[-1].completion_tokens
