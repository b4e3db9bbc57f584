"""The OpenAI-compatible provider against a fake Qianfan v2 server, over loopback."""

from __future__ import annotations

import re
import time

import pytest

from agents.fake_openai import FakeOpenAIServer
from agents.providers import get_provider
from agents.providers.base import ChatMessage, ChatRequest, Delta, Finish, ProviderError, SafetyBlocked
from agents.providers.http import close_session
from agents.providers.openai_compat import OpenAICompatProvider
from agents.providers.retry import stream_with_retry

REPLY = ["你好！", "I can help ", "with that."]


@pytest.fixture
async def fake_openai():
    server = await FakeOpenAIServer(reply=REPLY).start()
    yield server
    await close_session()
    await server.stop()


@pytest.fixture
def openai(settings, fake_openai) -> OpenAICompatProvider:
    settings.LLM_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = fake_openai.base_url
    settings.OPENAI_API_KEY = fake_openai.api_key
    settings.OPENAI_MODEL = "ernie-3.5-8k"
    settings.LLM_RETRY_BACKOFF = 0.0
    return get_provider("openai")


def ask(question: str = "充值没到账怎么办", **kwargs) -> ChatRequest:
    return ChatRequest(system="你是客服助手。", messages=[ChatMessage("user", question)], **kwargs)


async def collect(stream) -> tuple[list, ProviderError | None]:
    items: list = []
    try:
        async for item in stream:
            items.append(item)
    except ProviderError as exc:
        return items, exc
    return items, None


async def test_a_stream_yields_the_deltas_then_a_finish_with_usage(openai, fake_openai):
    items, error = await collect(openai.stream(ask(temperature=0.5, user_id="player-42")))

    assert error is None
    assert all(isinstance(item, Delta) for item in items[:-1])  # a read's chunks go out as one delta
    assert "".join(item.text for item in items[:-1]) == "".join(REPLY)
    assert items[-1] == Finish("stop", 7, len("".join(REPLY)))
    [request] = fake_openai.requests
    assert request["headers"]["Authorization"] == f"Bearer {fake_openai.api_key}"
    assert request["body"] == {
        "model": "ernie-3.5-8k",
        "messages": [{"role": "system", "content": "你是客服助手。"}, {"role": "user", "content": "充值没到账怎么办"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "user": "player-42",
    }


async def test_a_rate_limit_error_object_with_http_200_is_retried(openai, fake_openai):
    fake_openai.script("error_object", code="rpm_rate_limit_exceeded")

    _, error = await collect(openai.stream(ask()))
    assert error.retryable and error.code == "rpm_rate_limit_exceeded"

    fake_openai.script("error_object", code="tpm_rate_limit_exceeded")
    items, error = await collect(stream_with_retry(openai, ask()))
    assert error is None and "".join(i.text for i in items if isinstance(i, Delta)) == "".join(REPLY)
    assert len(fake_openai.requests) == 3


async def test_http_429_is_retryable(openai, fake_openai):
    fake_openai.script("http_429")

    items, error = await collect(openai.stream(ask()))

    assert items == []
    assert error.retryable and error.code == "rate_limit_exceeded"


async def test_a_429_with_retry_after_is_tried_again_when_the_provider_said_not_sooner(openai, fake_openai):
    fake_openai.script("http_429", retry_after=1)

    items, error = await collect(stream_with_retry(openai, ask()))

    assert error is None and "".join(i.text for i in items if isinstance(i, Delta)) == "".join(REPLY)
    refused, answered = fake_openai.requests
    assert answered["at"] - refused["at"] >= 1.0


async def test_a_rate_limit_outlasting_the_answers_patience_fails_saying_so(openai, fake_openai, settings):
    settings.LLM_RATE_LIMIT_WAIT = 1.0
    settings.LLM_RETRY_BACKOFF = 0.05
    fake_openai.script("error_object", code="rpm_rate_limit_exceeded", times=100)

    started = time.monotonic()
    _, error = await collect(stream_with_retry(openai, ask()))

    assert time.monotonic() - started < 1.5
    assert error.code == "rpm_rate_limit_exceeded" and not error.retryable
    assert re.search(r"still rate-limited after \d+\.\d s \(LLM_RATE_LIMIT_WAIT is 1 s; the provider", str(error))
    assert 3 < len(fake_openai.requests) < 100  # more than LLM_MAX_ATTEMPTS: a quota that refreshes


async def test_a_retry_after_longer_than_the_answers_patience_fails_at_once(openai, fake_openai, settings):
    settings.LLM_RATE_LIMIT_WAIT = 30
    fake_openai.script("http_429", retry_after=120)

    _, error = await collect(stream_with_retry(openai, ask()))

    assert "asked to wait 120 s more" in str(error)
    assert len(fake_openai.requests) == 1


async def test_an_invalid_model_is_not_retried(openai, fake_openai):
    fake_openai.script("error_object", code="invalid_model", status=400)

    _, error = await collect(stream_with_retry(openai, ask()))

    assert error.code == "invalid_model" and not error.retryable
    assert len(fake_openai.requests) == 1


async def test_a_wrong_api_key_is_not_retryable(openai, settings):
    settings.OPENAI_API_KEY = "wrong"

    _, error = await collect(openai.stream(ask()))

    assert error.code == "invalid_api_key" and not error.retryable


async def test_a_stream_cut_before_any_finish_is_incomplete(openai, fake_openai):
    fake_openai.script("no_done")

    items, error = await collect(openai.stream(ask()))

    assert "".join(i.text for i in items) == "".join(REPLY)
    assert error.code == "incomplete" and error.retryable


async def test_a_stream_that_finished_but_omits_done_still_finishes(openai, fake_openai):
    fake_openai.script("no_done", finish=True)

    items, error = await collect(openai.stream(ask()))

    assert error is None
    assert items[-1].finish_reason == "stop"


async def test_a_flagged_reply_raises_safety_blocked(openai, fake_openai):
    fake_openai.script("flagged", flag=3)

    _, error = await collect(openai.stream(ask()))

    assert isinstance(error, SafetyBlocked)


async def test_a_chunk_spread_over_several_data_lines_is_read_whole(openai, fake_openai):
    # One event's `data:` lines are one document, joined with "\n" (the SSE spec).
    fake_openai.multiline_data = True

    items, error = await collect(openai.stream(ask()))

    assert error is None
    assert "".join(item.text for item in items[:-1]) == "".join(REPLY)
    assert items[-1] == Finish("stop", 7, len("".join(REPLY)))
